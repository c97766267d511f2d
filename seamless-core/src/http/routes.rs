//! The sign-in surface's routes: which path is which endpoint, the methods each
//! serves, and the dispatch.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode, header};

use super::{Provider, Response, add_header, json};

/// One of our endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Authorize,
    SignIn,
    Login,
    Sso,
    Token,
    Discovery,
    Jwks,
    UserInfo,
    Logout,
    UserRealm,
    Mex,
    WindowsTransport,
    Health,
    Ready,
    Metrics,
}

impl Route {
    /// The endpoint at `path` (inside the base), whatever the method.
    pub(crate) fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/authorize" => Route::Authorize,
            "/signin" => Route::SignIn,
            "/login" => Route::Login,
            "/winauth/sso" => Route::Sso,
            "/token" => Route::Token,
            "/.well-known/openid-configuration" => Route::Discovery,
            "/jwks" => Route::Jwks,
            "/userinfo" => Route::UserInfo,
            "/logout" => Route::Logout,
            "/common/userrealm" => Route::UserRealm,
            p if p.starts_with("/common/userrealm/") => Route::UserRealm,
            "/winauth/trust/mex" => Route::Mex,
            "/healthz" => Route::Health,
            "/readyz" => Route::Ready,
            "/metrics" => Route::Metrics,
            "/winauth/trust/2005/windowstransport" | "/winauth/trust/13/windowstransport" => {
                Route::WindowsTransport
            }
            _ => return None,
        })
    }

    /// The methods the route serves; `HEAD` wherever `GET` is.
    fn methods(self) -> &'static [Method] {
        match self {
            Route::Login | Route::Token | Route::WindowsTransport => &[Method::POST],
            Route::Logout | Route::UserInfo => &[Method::GET, Method::HEAD, Method::POST],
            _ => &[Method::GET, Method::HEAD],
        }
    }

    /// The endpoint's name in metrics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::Authorize => "authorize",
            Route::SignIn => "signin",
            Route::Login => "login",
            Route::Sso => "sso",
            Route::Token => "token",
            Route::Discovery => "discovery",
            Route::Jwks => "jwks",
            Route::UserInfo => "userinfo",
            Route::Logout => "logout",
            Route::UserRealm => "userrealm",
            Route::Mex => "mex",
            Route::WindowsTransport => "windowstransport",
            Route::Health => "healthz",
            Route::Ready => "readyz",
            Route::Metrics => "metrics",
        }
    }

    /// `405` with `Allow` for a method the route does not serve.
    pub(crate) fn refuse_method(self, method: &Method) -> Option<Response> {
        if self.methods().contains(method) {
            return None;
        }
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method_not_allowed"}),
        );
        let allow: Vec<&str> = self.methods().iter().map(Method::as_str).collect();
        add_header(&mut response, header::ALLOW, &allow.join(", "));
        Some(response)
    }
}

impl Provider {
    /// Answers a request whose method the route serves. `HEAD` is answered as
    /// `GET` would be, without the body.
    pub(super) async fn route(&self, route: Route, head: &Parts, body: &Bytes) -> Response {
        if head.method == Method::HEAD {
            let mut get = head.clone();
            get.method = Method::GET;
            let mut response = Box::pin(self.route(route, &get, body)).await;
            *response.body_mut() = Bytes::new();
            return response;
        }
        match route {
            Route::Authorize => self.authorize(head).await,
            Route::SignIn => self.sign_in_to_app(head).await,
            Route::Login => self.login(head, body).await,
            Route::Sso => self.sso(head).await,
            Route::Token => self.token_endpoint(head, body).await,
            Route::Discovery => self.discovery(),
            Route::Jwks => self.jwks(),
            Route::UserInfo => self.userinfo(head),
            Route::Logout => self.logout(head, body).await,
            Route::UserRealm => {
                let upn = head
                    .uri
                    .path()
                    .rsplit_once("/common/userrealm/")
                    .map(|(_, upn)| upn)
                    .filter(|upn| !upn.is_empty());
                self.user_realm(head, upn).await
            }
            Route::Mex => self.mex(),
            Route::WindowsTransport => self.windows_transport(head, body).await,
            Route::Health => self.healthz(),
            Route::Ready => self.readyz().await,
            Route::Metrics => super::respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics().await,
            ),
        }
    }
}

/// Every sign-in path (inside the base); `/common/userrealm/` also takes a UPN
/// after it. For adapters that must declare routes (rocket).
pub const SIGN_IN_PATHS: &[&str] = &[
    "/authorize",
    "/signin",
    "/login",
    "/winauth/sso",
    "/token",
    "/.well-known/openid-configuration",
    "/jwks",
    "/userinfo",
    "/logout",
    "/common/userrealm",
    "/winauth/trust/mex",
    "/winauth/trust/2005/windowstransport",
    "/winauth/trust/13/windowstransport",
    "/healthz",
    "/readyz",
    "/metrics",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_is_routed() {
        for path in SIGN_IN_PATHS {
            assert!(Route::of(path).is_some(), "{path}");
        }
        assert_eq!(Route::of("/common/userrealm/a@b.c"), Some(Route::UserRealm));
        assert_eq!(Route::of("/app"), None);
    }
}
