//! Routes and pages of the stand-in legacy app.
//!
//! This file owns which path answers what: the admin HTML pages, the legacy JSON
//! API (health, bookings, events), the cookie and slow-response helpers, and the
//! JSON 404. Bodies are static on purpose: the point is to show that a request
//! reached the legacy app, not to model its data.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::echo;

/// Longest wait `/slow` agrees to, so a typo cannot hang a test run for hours.
const SLOW_CAP_MS: u64 = 60_000;

/// Answers one request.
pub async fn handle(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();

    // `/echo` takes any method, so it is matched before the GET-only routes.
    if path == "/echo" || path.starts_with("/echo/") {
        return echo::handle(req).await;
    }
    // hyper drops the body of HEAD responses itself, so HEAD can share GET's routes.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return not_found(&path);
    }

    match path.as_str() {
        "/" | "/admin" => admin_page(&path),
        p if p.starts_with("/admin/") => admin_page(p),
        "/api/health" => json(StatusCode::OK, &json!({"ok": true, "app": "legacy"})),
        "/api/bookings" => json(StatusCode::OK, &bookings()),
        "/api/events" => json(StatusCode::OK, &Value::Array(events())),
        "/cookies" => cookies(),
        "/slow" => slow(req.uri().query()).await,
        p => match p.strip_prefix("/api/events/") {
            Some(id) => show_event(id, p),
            None => not_found(p),
        },
    }
}

/// Builds a JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::NOT_FOUND,
        &json!({"error": "not_found", "path": path}),
    )
}

fn admin_page(path: &str) -> Response<Full<Bytes>> {
    let path = html_escape(path);
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <title>Legacy admin panel</title></head>\n\
         <body><h1>Legacy admin panel</h1><p>You are at <code>{path}</code>.</p></body></html>\n"
    );

    let mut response = Response::new(Full::new(Bytes::from(page)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Escapes text for an HTML body; a path can carry `&` and quotes, and a
/// proxy under test may pass stranger bytes than a browser would send.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Two `Set-Cookie` lines, so a proxy that folds them into one gets caught.
fn cookies() -> Response<Full<Bytes>> {
    let mut response = json(StatusCode::OK, &json!({"cookies": ["session", "theme"]}));
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        HeaderValue::from_static("session=abc123; Path=/; HttpOnly"),
    );
    headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark; Path=/"));
    response
}

async fn slow(query: Option<&str>) -> Response<Full<Bytes>> {
    let Some(ms) = parse_ms(query) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "bad_request", "detail": "expected ?ms=N"}),
        );
    };
    let ms = ms.min(SLOW_CAP_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    json(StatusCode::OK, &json!({"ok": true, "slept_ms": ms}))
}

/// Reads `ms` from a query string such as `ms=1500&x=1`.
fn parse_ms(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="))
        .and_then(|value| value.parse().ok())
}

fn show_event(id: &str, path: &str) -> Response<Full<Bytes>> {
    let Ok(wanted) = id.parse::<u64>() else {
        return not_found(path);
    };
    match events()
        .into_iter()
        .find(|event| event["id"].as_u64() == Some(wanted))
    {
        Some(event) => json(StatusCode::OK, &event),
        None => not_found(path),
    }
}

/// Events as the legacy app renders them: every column, Rails-style timestamps.
fn events() -> Vec<Value> {
    vec![
        json!({
            "id": 1, "name": "Aurora Skies World Tour: Wembley Stadium, London",
            "starts_at": "2027-05-14T19:30:00.000Z",
            "seats_total": 90000, "seats_available": 1250,
            "created_at": "2026-11-02T09:00:00.000Z", "updated_at": "2026-11-02T09:00:00.000Z"
        }),
        json!({
            "id": 2, "name": "The Midnight Parade: Estadio Azteca, Mexico City",
            "starts_at": "2027-06-05T20:00:00.000Z",
            "seats_total": 87000, "seats_available": 40210,
            "created_at": "2026-11-02T09:00:00.000Z", "updated_at": "2026-11-02T09:00:00.000Z"
        }),
    ]
}

fn bookings() -> Value {
    json!([
        {
            "id": "6f1c2a4e-8a0b-4c1e-9d3a-1b2c3d4e5f60", "event_id": 1,
            "user_ref": "user-1001", "quantity": 2, "status": "confirmed",
            "created_at": "2026-11-03T10:15:00.000Z"
        },
        {
            "id": "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b", "event_id": 2,
            "user_ref": "user-1002", "quantity": 1, "status": "pending",
            "created_at": "2026-11-03T10:16:00.000Z"
        }
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ms_reads_the_ms_pair() {
        assert_eq!(parse_ms(Some("ms=250")), Some(250));
        assert_eq!(parse_ms(Some("a=1&ms=7")), Some(7));
        assert_eq!(parse_ms(Some("ms=abc")), None);
        assert_eq!(parse_ms(None), None);
    }

    #[test]
    fn html_escape_neutralises_markup() {
        assert_eq!(
            html_escape("/admin/<b>&\"'"),
            "/admin/&lt;b&gt;&amp;&quot;&#39;"
        );
    }

    #[test]
    fn cookies_sends_two_separate_lines() {
        let response = cookies();
        assert_eq!(response.headers().get_all(SET_COOKIE).iter().count(), 2);
    }
}
