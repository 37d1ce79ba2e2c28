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
    // The route may take less than the handler could.
    let limit = ctx.max_body.map_or(handler.body_limit(), |route| {
        handler.body_limit().min(route as usize)
    });
    let outcome = match read_body(session, limit).await? {
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
///
/// The outer error is a client that went away (nothing left to answer); the inner one
/// is answered to the client.
async fn read_body(session: &mut Session, limit: usize) -> Result<Result<Bytes, HandlerError>> {
    let header = session.req_header();
    let declared = header
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Ok(Err(HandlerError::BodyTooLarge { limit }));
    }
    if expects_continue(header) && limit > 0 {
        // The client holds its body back until we say we want it.
        session
            .as_downstream_mut()
            .write_continue_response()
            .await?;
    }

    let mut body = BytesMut::new();
    loop {
        let chunk = match session.read_request_body().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(Ok(body.freeze())),
            Err(error) => return body_error(session, error),
        };
        if body.len() + chunk.len() > limit {
            return Ok(Err(HandlerError::BodyTooLarge { limit }));
        }
        body.extend_from_slice(&chunk);
    }
}

fn expects_continue(header: &pingora::http::RequestHeader) -> bool {
    header
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A body that could not be read is the client's doing: a stall is `408`, broken
/// framing `400`, and a client that left gets no answer at all.
fn body_error(
    session: &mut Session,
    error: Box<pingora::Error>,
) -> Result<Result<Bytes, HandlerError>> {
    use pingora::ErrorType as E;
    session.set_keepalive(None);
    match error.etype() {
        E::ConnectionClosed | E::ReadError | E::WriteError => Err(error),
        E::ReadTimedout => Ok(Err(HandlerError::BodyTimeout)),
        other => Ok(Err(HandlerError::MalformedBody(other.as_str().to_owned()))),
    }
}
