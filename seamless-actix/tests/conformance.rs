//! The conformance suite through actix-web: an `App` with the middleware,
//! driven by `actix_web::test::call_service`.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test, web};
use seamless_actix::{MaybeSignedIn, Seamless, SignedIn};
use seamless_conformance::{
    ANONYMOUS, APP_DENIED, HOME, Harness, PlainRequest, PlainResponse, conformance_tests,
    identity_body,
};
use seamless_core::Provider;

async fn me(SignedIn(user): SignedIn) -> String {
    identity_body(&user)
}

async fn maybe(MaybeSignedIn(user): MaybeSignedIn) -> String {
    user.map_or_else(|| ANONYMOUS.to_string(), |u| identity_body(&u))
}

async fn home() -> &'static str {
    HOME
}

async fn denied() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Unauthorized().body(APP_DENIED)
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(home))
        .route("/me", web::get().to(me))
        .route("/api/me", web::get().to(me))
        .route("/maybe", web::get().to(maybe))
        .route("/denied", web::get().to(denied));
}

struct Actix<G, U> {
    runner: actix_web::rt::SystemRunner,
    guarded: G,
    unguarded: U,
}

fn actix(
    provider: Provider,
) -> Actix<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let runner = actix_web::rt::System::new();
    let guarded = runner.block_on(test::init_service(
        App::new().wrap(Seamless::new(provider)).configure(routes),
    ));
    let unguarded = runner.block_on(test::init_service(App::new().configure(routes)));
    Actix {
        runner,
        guarded,
        unguarded,
    }
}

fn run<S, B>(runner: &actix_web::rt::SystemRunner, app: &S, request: PlainRequest) -> PlainResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut builder = test::TestRequest::default()
        .method(request.method.parse().expect("method"))
        .uri(&request.uri)
        .peer_addr(request.peer_addr());
    for (k, v) in &request.headers {
        // Appended (a repeated header keeps every value), by bytes (values may
        // hold non-ASCII obs-text bytes).
        let value = actix_web::http::header::HeaderValue::from_bytes(v.as_bytes()).expect("value");
        builder = builder.append_header((k.as_str(), value));
    }
    let request = builder.set_payload(request.body).to_request();
    runner.block_on(async {
        let response = test::call_service(app, request).await;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = test::read_body(response).await;
        PlainResponse {
            status,
            headers,
            body: body.to_vec(),
        }
    })
}

impl<G, U, B1, B2> Harness for Actix<G, U>
where
    G: Service<actix_http::Request, Response = ServiceResponse<B1>, Error = actix_web::Error>,
    U: Service<actix_http::Request, Response = ServiceResponse<B2>, Error = actix_web::Error>,
    B1: MessageBody,
    B2: MessageBody,
{
    fn send(&mut self, request: PlainRequest) -> PlainResponse {
        run(&self.runner, &self.guarded, request)
    }

    fn send_unguarded(&mut self, request: PlainRequest) -> Result<PlainResponse, String> {
        Ok(run(&self.runner, &self.unguarded, request))
    }
}

conformance_tests!(actix);
