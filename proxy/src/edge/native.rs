//! Serving a request with a native handler: read the body within the handler's limit,
//! call the handler, write its answer or its problem.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::Uri;
use pingora::proxy::Session;
use pingora::Result;
use std::time::{Duration, Instant};

use http::{header, HeaderValue, Method, Response, StatusCode};
use switchyard_handlers::{
    problem_response, Body, Handler, HandlerError, HandlerResult, NativeRequest, PathParams,
};

use crate::admin::metrics::METRICS;
use crate::cache::{Cached, MicroCache};

use super::ctx::RequestCtx;
use super::respond;

/// Answers the request with `handler`; the response is always written here.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    handler: Arc<dyn Handler>,
    params: PathParams,
    cache: Option<Arc<MicroCache>>,
) -> Result<()> {
    // The route may take less than the handler could.
    let limit = ctx.max_body.map_or(handler.body_limit(), |route| {
        handler.body_limit().min(route as usize)
    });
    let outcome = match read_body(session, limit).await? {
        Ok(body) => {
            let request = request(session, params, body);
            match cache.filter(|_| is_read(&request.method)) {
                Some(cache) => cached(&cache, handler.as_ref(), request, ctx).await,
                None => handler.handle(request).await,
            }
        }
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

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Answers from the route's micro-cache, rendering (once, for every request that
/// arrives meanwhile) when nothing fresh is there.
async fn cached(
    cache: &MicroCache,
    handler: &dyn Handler,
    request: NativeRequest,
    ctx: &RequestCtx,
) -> HandlerResult {
    // HEAD and GET share entries: the cache keeps the GET's body, a HEAD drops it.
    let key = request.uri.to_string();
    let render = || async {
        match handler.handle(request).await {
            Ok(response) => keepable(response),
            other => Err(Box::new(other)),
        }
    };
    let (result, lookup) = cache.get_or_render(&key, render).await;
    let route = ctx.route.as_deref().unwrap_or("-");
    METRICS
        .cache_lookups
        .with_label_values(&[route, lookup.as_str()])
        .inc();
    match result {
        Ok(entry) => Ok(from_cache(entry, cache.ttl())),
        Err(uncached) => *uncached,
    }
}

/// A whole `200` is kept; anything else goes only to the request that made it.
fn keepable(response: Response<Body>) -> Result<Cached, Box<HandlerResult>> {
    let (parts, body) = response.into_parts();
    match body {
        Body::Full(bytes) if parts.status == StatusCode::OK => Ok(Cached {
            status: parts.status,
            headers: parts.headers,
            body: bytes,
            stored: Instant::now(),
        }),
        body => Err(Box::new(Ok(Response::from_parts(parts, body)))),
    }
}

/// A cached answer, saying how old it is and how long it stays good.
fn from_cache(entry: Cached, ttl: Duration) -> Response<Body> {
    let age = entry.stored.elapsed();
    let mut response = Response::new(Body::Full(entry.body));
    *response.status_mut() = entry.status;
    *response.headers_mut() = entry.headers;
    let left = ttl.saturating_sub(age).as_secs();
    let headers = response.headers_mut();
    headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={left}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
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
