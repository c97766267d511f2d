//! Body conversion: the core speaks `http` 1.x with `Bytes`, as tower does.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use seamless_core::engine::Engine;
use seamless_core::http::Response;

/// Reads a body up to the engine's limit; the error is the core's answer.
pub(crate) async fn read_body<B>(engine: &Engine, body: B) -> Result<Bytes, Response>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, engine.web().max_body).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(engine.payload_too_large()),
        Err(_) => Err(engine.unreadable_body()),
    }
}

/// A core response as a body the stack can send.
pub(crate) fn full(response: Response) -> http::Response<Full<Bytes>> {
    response.map(Full::new)
}
