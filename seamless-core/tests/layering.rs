//! The layering of `seamless-core`, checked from the source: a module imports
//! only from its own layer or one below, and no two modules import each other
//! (directly or round a longer circle). ARCHITECTURE.md draws the same layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &[
        "kerberos", "clock", "error", "seal", "fs", "native", "metrics",
    ],
    &["model"],
    &["flow", "backends", "token", "grants"],
    &["engine"],
    &["http"],
    &["config", "testkit"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| {
            panic!("module `{module}` has no layer: add it to LAYERS and ARCHITECTURE.md")
        })
}

/// Every `crate::<module>` a source file names outside comments and its unit
/// tests (the `#[cfg(test)]` module at the end of a file may use the test kit).
fn imports(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// Module → the modules it imports, from every `.rs` file under `src/`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut sources = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        // `lib.rs` declares; a `tests.rs` is a unit-test module (`#[cfg(test)] mod tests;`).
        if module == "lib" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        graph.entry(module.clone()).or_default();
        sources.push((module, std::fs::read_to_string(&file).expect("read")));
    }
    // Only modules count (`$crate::some_macro` names a macro at the root).
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for (module, source) in sources {
        let uses = imports(&source)
            .into_iter()
            .filter(|m| *m != module && modules.contains(m));
        let uses: Vec<String> = uses.collect();
        graph.entry(module).or_default().extend(uses);
    }
    graph
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let mut upward = Vec::new();
    for (module, uses) in graph() {
        for used in uses {
            if layer_of(&used) > layer_of(&module) {
                upward.push(format!("{module} → {used}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that go up a layer: {upward:?}");
}

#[test]
fn no_import_circles_between_modules() {
    let graph = graph();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(
                path[at..]
                    .iter()
                    .map(|s| s.to_string())
                    .chain([node.to_string()])
                    .collect(),
            );
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let circle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "import circle: {}",
            circle.unwrap_or_default().join(" → ")
        );
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    let found = imports(
        "use crate::http::Provider; // crate::config is a comment\nlet x = crate::engine::Provider::builder();",
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["engine", "http"],
        "paths in code count, comments do not"
    );
    assert!(layer_of("http") > layer_of("engine"));
}
