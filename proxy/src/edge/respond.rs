//! Writing a response the edge produced itself, native or error, to the client.

use bytes::Bytes;
use http::{header, Method, Response};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use switchyard_handlers::Body;
use tokio::sync::mpsc;

use super::ctx::{RequestCtx, ServedBy};

/// Writes `response` with the edge's own headers, and records its status.
pub async fn write(
    session: &mut Session,
    ctx: &mut RequestCtx,
    response: Response<Body>,
) -> Result<()> {
    let (parts, body) = response.into_parts();
    let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 3))?;
    for (name, value) in &parts.headers {
        header.append_header(name.clone(), value.clone())?;
    }
    stamp(&mut header, ctx, ServedBy::Native)?;
    ctx.status = Some(parts.status.as_u16());

    close_if_shutting_down(session);
    // HEAD gets the headers of the GET, without the body.
    let head_only = session.req_header().method == Method::HEAD;
    match body {
        Body::Full(bytes) => {
            header.insert_header(header::CONTENT_LENGTH, bytes.len())?;
            write_full(session, header, bytes, head_only).await
        }
        Body::Stream(chunks) => {
            header.insert_header(header::TRANSFER_ENCODING, "chunked")?;
            write_stream(session, header, chunks, head_only).await
        }
    }
}

async fn write_full(
    session: &mut Session,
    header: ResponseHeader,
    body: Bytes,
    head_only: bool,
) -> Result<()> {
    if head_only || body.is_empty() {
        return session.write_response_header(Box::new(header), true).await;
    }
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session.write_response_body(Some(body), true).await
}

/// Sends chunks as the handler produces them. Dropping `chunks` when the client is
/// gone tells the producer to stop.
async fn write_stream(
    session: &mut Session,
    header: ResponseHeader,
    mut chunks: mpsc::Receiver<Bytes>,
    head_only: bool,
) -> Result<()> {
    session
        .write_response_header(Box::new(header), head_only)
        .await?;
    if head_only {
        return Ok(());
    }
    while let Some(chunk) = chunks.recv().await {
        session.write_response_body(Some(chunk), false).await?;
    }
    session.write_response_body(None, true).await
}

/// Once the process is shutting down (SIGTERM, or handing over to a new binary), every
/// response says `Connection: close`, so keep-alive clients reconnect (to the new
/// process) after it instead of finding their idle connection dropped.
pub fn close_if_shutting_down(session: &mut Session) {
    if session.is_process_shutting_down() {
        session.set_keepalive(None);
    }
}

/// Adds `X-Request-Id` and `X-Served-By`, which every response carries.
pub fn stamp(header: &mut ResponseHeader, ctx: &mut RequestCtx, served_by: ServedBy) -> Result<()> {
    header.insert_header("X-Request-Id", ctx.request_id.as_str())?;
    header.insert_header("X-Served-By", served_by.as_str())?;
    ctx.served_by = served_by;
    Ok(())
}
