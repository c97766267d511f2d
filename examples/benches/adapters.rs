//! The adapters in process, one core: a complete browser sign-in (authorize →
//! challenge → Negotiate → login post → code → tokens, ES256) through each framework,
//! and what the middleware adds to an authenticated request (session cookie)
//! against the same trivial handler without it.
//!
//! Compare with `seamless-core`'s `http/full_browser_sign_in/ES256` (core only).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use seamless_core::http::{Client, WebConfig};
use seamless_core::testkit::PacSpec;
use seamless_core::testkit::world::World;
use seamless_core::token::SigningAlgorithm;

const CB: &str = "https://app.example/cb";

/// A plain exchange: method, path, headers → status, headers, body.
type Exchange<'a> =
    dyn FnMut(&str, &str, &[(&str, &str)], Vec<u8>) -> (u16, Vec<(String, String)>, Vec<u8>) + 'a;

/// The shared test world, served over plain HTTP with one ES256 client.
fn world() -> World {
    World::builder()
        .no_faults()
        .store_capacity(1 << 23)
        .provider(|builder| {
            let mut web = WebConfig::new("http://localhost");
            web.dangerous().insecure_cookies();
            builder.web(web).client(
                Client::confidential("app", "secret", CB).with_algorithm(SigningAlgorithm::Es256),
            )
        })
        .build()
}

/// A fresh Negotiate header for alice, with an AD-sized PAC.
fn negotiate(world: &World) -> String {
    format!(
        "Negotiate {}",
        world.ticket("alice", PacSpec::ad_benchmark_user())
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn cookie_of(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or_default())
        .find(|v| v.starts_with(name))
        .unwrap_or_default()
        .to_string()
}

fn field(body: &[u8], name: &str) -> String {
    let html = std::str::from_utf8(body).expect("utf-8");
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("field") + marker.len();
    html[start..start + html[start..].find('"').expect("end")].to_string()
}

/// One complete browser sign-in; returns the session cookie.
fn sign_in(send: &mut Exchange<'_>, negotiate: &str) -> String {
    let (status, headers, body) = send(
        "GET",
        "/authorize?client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&state=s&nonce=n&login_hint=alice%40ad.test",
        &[],
        Vec::new(),
    );
    assert_eq!(status, 200);
    let flow = cookie_of(&headers, "seamless-flow");
    let state = field(&body, "state");
    // The page's background request: its challenge, then the ticket.
    let challenge = [("cookie", flow.as_str()), ("seamless-flow", state.as_str())];
    let (status, _, _) = send("GET", "/winauth/sso", &challenge, Vec::new());
    assert_eq!(status, 401);
    let (status, _, body) = send(
        "GET",
        "/winauth/sso",
        &[
            ("cookie", &flow),
            ("seamless-flow", &state),
            ("authorization", negotiate),
        ],
        Vec::new(),
    );
    assert_eq!(status, 200);
    let token: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let form = format!(
        "step=sso&state={state}&token={}",
        token["token"].as_str().expect("token")
    );
    let (status, headers, _) = send(
        "POST",
        "/login",
        &[
            ("cookie", &flow),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form.into_bytes(),
    );
    assert_eq!(status, 303);
    let location = header(&headers, "location").expect("location");
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|c| c.split('&').next())
        .expect("code")
        .to_string();
    let session = cookie_of(&headers, "seamless-session");
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=app&client_secret=secret"
    );
    let (status, _, _) = send(
        "POST",
        "/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.into_bytes(),
    );
    assert_eq!(status, 200);
    session
}

mod axum_driver {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use seamless_axum::{SeamlessLayer, SignedIn};
    use tower::ServiceExt as _;

    pub(crate) fn apps(engine: seamless_core::Provider) -> (Router, Router) {
        let guarded = Router::new()
            .route(
                "/me",
                get(|SignedIn(u): SignedIn| async move { u.claims.sub }),
            )
            .route("/hello", get(|| async { "hello" }))
            .layer(SeamlessLayer::new(engine));
        let bare = Router::new().route("/hello", get(|| async { "hello" }));
        (guarded, bare)
    }

    pub(crate) fn send(
        rt: &tokio::runtime::Runtime,
        app: &Router,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        rt.block_on(async {
            let r = app
                .clone()
                .oneshot(b.body(Body::from(body)).expect("req"))
                .await
                .expect("ok");
            let status = r.status().as_u16();
            let headers = r
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .expect("body")
                .to_vec();
            (status, headers, body)
        })
    }
}

mod actix_driver {
    use actix_web::body::MessageBody;
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::{App, test, web};
    use seamless_actix::{Seamless, SignedIn};

    pub(crate) type Svc = Box<
        dyn Fn(
            actix_http::Request,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = (u16, Vec<(String, String)>, Vec<u8>)>>,
        >,
    >;

    fn boxed<S, B>(service: S) -> Svc
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
            + 'static,
        B: MessageBody + 'static,
    {
        let service = std::rc::Rc::new(service);
        Box::new(move |req| {
            let service = service.clone();
            Box::pin(async move {
                let r = test::call_service(&*service, req).await;
                let status = r.status().as_u16();
                let headers = r
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                    .collect();
                (status, headers, test::read_body(r).await.to_vec())
            })
        })
    }

    pub(crate) fn apps(
        runner: &actix_web::rt::SystemRunner,
        engine: seamless_core::Provider,
    ) -> (Svc, Svc) {
        async fn me(SignedIn(u): SignedIn) -> String {
            u.claims.sub
        }
        async fn hello() -> &'static str {
            "hello"
        }
        let guarded = runner.block_on(test::init_service(
            App::new()
                .wrap(Seamless::new(engine))
                .route("/me", web::get().to(me))
                .route("/hello", web::get().to(hello)),
        ));
        let bare = runner.block_on(test::init_service(
            App::new().route("/hello", web::get().to(hello)),
        ));
        (boxed(guarded), boxed(bare))
    }

    pub(crate) fn send(
        runner: &actix_web::rt::SystemRunner,
        app: &Svc,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut b = test::TestRequest::default()
            .method(method.parse().expect("method"))
            .uri(uri);
        for (k, v) in headers {
            b = b.insert_header((*k, *v));
        }
        runner.block_on(app(b.set_payload(body).to_request()))
    }
}

mod rocket_driver {
    use rocket::config::{Config, LogLevel};
    use rocket::http::Header;
    use rocket::local::blocking::Client;
    use rocket::{get, routes};
    use seamless_rocket::{Seamless, SignedIn};

    #[get("/me")]
    fn me(user: SignedIn) -> String {
        user.0.claims.sub
    }

    #[get("/hello")]
    fn hello() -> &'static str {
        "hello"
    }

    pub(crate) fn apps(engine: seamless_core::Provider) -> (Client, Client) {
        let config = Config {
            log_level: LogLevel::Off,
            ..Config::release_default()
        };
        let guarded = rocket::custom(config.clone())
            .attach(Seamless::fairing(engine))
            .mount("/", routes![me, hello]);
        let bare = rocket::custom(config).mount("/", routes![hello]);
        (
            Client::untracked(guarded).expect("rocket"),
            Client::untracked(bare).expect("rocket"),
        )
    }

    pub(crate) fn send(
        client: &Client,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut r = client
            .req(method.parse().expect("method"), uri.to_string())
            .body(body);
        for (k, v) in headers {
            r = r.header(Header::new(k.to_string(), v.to_string()));
        }
        let r = r.dispatch();
        let status = r.status().code;
        let headers = r
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        (status, headers, r.into_bytes().unwrap_or_default())
    }
}

/// The four measurements for one framework.
fn bench_adapter(
    c: &mut Criterion,
    name: &str,
    world: &World,
    guarded: &mut Exchange<'_>,
    bare: &mut Exchange<'_>,
) {
    c.bench_function(&format!("adapters/full_browser_sign_in/{name}"), |b| {
        b.iter_batched(
            || negotiate(world),
            |n| black_box(sign_in(guarded, &n)),
            BatchSize::SmallInput,
        )
    });
    let session = sign_in(guarded, &negotiate(world));
    let cookie = [("cookie", session.as_str())];
    for (what, app_path) in [
        ("authenticated_request", "/me"),
        ("session_passthrough", "/hello"),
    ] {
        c.bench_function(&format!("adapters/{what}/{name}"), |b| {
            b.iter(|| black_box(guarded("GET", app_path, &cookie, Vec::new())))
        });
    }
    c.bench_function(&format!("adapters/bare_request/{name}"), |b| {
        b.iter(|| black_box(bare("GET", "/hello", &cookie, Vec::new())))
    });
}

fn benches(c: &mut Criterion) {
    // axum
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let world = self::world();
    let (guarded, bare) = axum_driver::apps(world.provider.clone());
    bench_adapter(
        c,
        "axum",
        &world,
        &mut |m, u, h, b| axum_driver::send(&rt, &guarded, m, u, h, b),
        &mut |m, u, h, b| axum_driver::send(&rt, &bare, m, u, h, b),
    );

    // actix-web
    let runner = actix_web::rt::System::new();
    let world = self::world();
    let (guarded, bare) = actix_driver::apps(&runner, world.provider.clone());
    bench_adapter(
        c,
        "actix",
        &world,
        &mut |m, u, h, b| actix_driver::send(&runner, &guarded, m, u, h, b),
        &mut |m, u, h, b| actix_driver::send(&runner, &bare, m, u, h, b),
    );

    // rocket
    let world = self::world();
    let (guarded, bare) = rocket_driver::apps(world.provider.clone());
    bench_adapter(
        c,
        "rocket",
        &world,
        &mut |m, u, h, b| rocket_driver::send(&guarded, m, u, h, b),
        &mut |m, u, h, b| rocket_driver::send(&bare, m, u, h, b),
    );
}

criterion_group!(adapter_benches, benches);
criterion_main!(adapter_benches);
