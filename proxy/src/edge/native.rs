//! Serving a request with a native handler: read the body within the handler's limit,
//! call the handler, write its answer or its problem.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::Uri;
use pingora::proxy::Session;
use pingora::Result;
use switchyard_handlers::{problem_response, Handler, HandlerError, NativeRequest, PathParams};

use super::ctx::RequestCtx;
use super::respond;

/// Answers the request with `handler`; the response is always written here.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    handler: Arc<dyn Handler>,
    params: PathParams,
) -> Result<()> {
    let outcome = match read_body(session, handler.body_limit()).await? {
        Ok(body) => handler.handle(request(session, params, body)).await,
        Err(error) => Err(error),
    };

    let response = match outcome {
        Ok(response) => response,
        Err(error) => {
            let problem = error.problem();
            ctx.error_code = Some(problem.code);
            if error.is_server_fault() {
                ctx.fault = Some(error.to_string());
            }
            if matches!(error, HandlerError::BodyTooLarge { .. }) {
                // The rest of the body is still on the wire: this connection cannot be reused.
                session.set_keepalive(None);
            }
            problem_response(&problem)
        }
    };
    respond::write(session, ctx, response).await
}

fn request(session: &Session, params: PathParams, body: Bytes) -> NativeRequest {
    let header = session.req_header();
    let uri = header
        .uri
        .path_and_query()
        .and_then(|pq| Uri::try_from(pq.as_str()).ok())
        .unwrap_or_else(|| header.uri.clone());
    NativeRequest {
        method: header.method.clone(),
        uri,
        headers: header.headers.clone(),
        params,
        body,
    }
}

/// Reads the whole body, or reports it too large as soon as that is known (from
/// `Content-Length`, before reading anything, when the client sends one).
async fn read_body(session: &mut Session, limit: usize) -> Result<Result<Bytes, HandlerError>> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Ok(Err(HandlerError::BodyTooLarge { limit }));
    }

    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > limit {
            return Ok(Err(HandlerError::BodyTooLarge { limit }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body.freeze()))
}
