//! What the HTTP benchmarks share.

use seamless_core::http::Response;

/// A hidden field's value in a page.
pub(crate) fn field(r: &Response, name: &str) -> String {
    let html = std::str::from_utf8(r.body()).expect("utf-8");
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("field") + marker.len();
    html[start..start + html[start..].find('"').expect("end")].to_string()
}
