//! `bookings.status`: the status record of one booking, right away, after waiting for
//! it to change (`?wait=<seconds>`), or as a stream of server-sent events
//! (`Accept: text/event-stream`).
//!
//! Waiting is fed by the worker's `bookings:updates` channel and backed by re-reading
//! the record every few seconds, so an answer never depends on a message arriving.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use redis::AsyncCommands;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::record::{self, StatusRecord};
use super::updates::{next_change, UpdateFeed};
use crate::options::{self, OptionsError};
use crate::{json_response, Body, Handler, HandlerError, HandlerResult, NativeRequest, Stores};

/// How often a waiting request re-reads the record when no update arrives. The
/// published update is what answers quickly; this only covers a lost message, and
/// every open waiter costs Redis one read per interval.
const RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StatusOptions {
    /// Longest `?wait=` honoured; longer asks are cut to it.
    #[serde(deserialize_with = "options::duration")]
    max_wait: Duration,
    /// Longest an event stream stays open.
    #[serde(deserialize_with = "options::duration")]
    max_stream: Duration,
    /// Interval of keep-alive comments on an idle event stream.
    #[serde(deserialize_with = "options::duration")]
    stream_keepalive: Duration,
}

impl Default for StatusOptions {
    fn default() -> Self {
        StatusOptions {
            max_wait: Duration::from_secs(30),
            max_stream: Duration::from_secs(300),
            stream_keepalive: Duration::from_secs(15),
        }
    }
}

struct BookingStatus {
    options: StatusOptions,
    stores: Arc<Stores>,
    feed: Arc<UpdateFeed>,
}

pub(super) fn build(
    table: &toml::Table,
    stores: &Arc<Stores>,
) -> Result<Arc<dyn Handler>, OptionsError> {
    let options: StatusOptions = options::parse(table)?;
    if options.max_stream.is_zero() || options.stream_keepalive.is_zero() {
        return Err(OptionsError(
            "max_stream and stream_keepalive must be longer than zero".into(),
        ));
    }
    Ok(Arc::new(BookingStatus {
        options,
        stores: stores.clone(),
        feed: Arc::new(UpdateFeed::new(stores.redis_client().clone())),
    }))
}

#[async_trait]
impl Handler for BookingStatus {
    async fn handle(&self, request: NativeRequest) -> HandlerResult {
        let raw = request.params.get("id").ok_or_else(|| {
            HandlerError::Internal("route for bookings.status has no {id} parameter".into())
        })?;
        let id = booking_id(raw)?;
        if wants_event_stream(&request) {
            return self.stream(id).await;
        }

        let record = match wait_param(&request, self.options.max_wait)? {
            Some(wait) => wait_for_change(&self.stores, &self.feed, &id, wait).await?,
            None => read(&self.stores, &id).await?,
        };
        let mut response = json_response(StatusCode::OK, &record)?;
        no_store(&mut response);
        Ok(response)
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::HEAD]
    }
}

impl BookingStatus {
    /// Streams the record now and at every change, until it is final or the stream
    /// has been open `max_stream`.
    async fn stream(&self, id: Uuid) -> HandlerResult {
        let first = read(&self.stores, &id).await?;
        let (sender, receiver) = mpsc::channel(16);
        let stream = EventStream {
            stores: self.stores.clone(),
            feed: self.feed.clone(),
            id,
            sender,
            keepalive: self.options.stream_keepalive,
            until: Instant::now() + self.options.max_stream,
        };
        tokio::spawn(stream.run(first));

        let mut response = Response::new(Body::Stream(receiver));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        no_store(&mut response);
        Ok(response)
    }
}

fn no_store(response: &mut Response<Body>) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Reads a booking id in its hyphenated form, any case.
fn booking_id(text: &str) -> Result<Uuid, HandlerError> {
    let invalid = || HandlerError::InvalidParameter {
        name: "id",
        message: format!("must be a booking id (a UUID), got {text:?}"),
    };
    if text.len() != 36 {
        return Err(invalid());
    }
    Uuid::try_parse(text).map_err(|_| invalid())
}

fn wants_event_stream(request: &NativeRequest) -> bool {
    request.header("accept").is_some_and(|accept| {
        accept
            .split(',')
            .any(|t| t.trim().starts_with("text/event-stream"))
    })
}

/// `?wait=<seconds>`, cut to `max`; `None` when absent or zero.
fn wait_param(request: &NativeRequest, max: Duration) -> Result<Option<Duration>, HandlerError> {
    let Some(text) = request.query_param("wait") else {
        return Ok(None);
    };
    let seconds = text
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0);
    let Some(seconds) = seconds else {
        return Err(HandlerError::InvalidParameter {
            name: "wait",
            message: format!("must be a number of seconds, got {text:?}"),
        });
    };
    let wait = Duration::from_secs_f64(seconds.min(max.as_secs_f64()));
    Ok((!wait.is_zero()).then_some(wait))
}

/// The current record; `NotFound` when there is none.
async fn read(stores: &Stores, id: &Uuid) -> Result<StatusRecord, HandlerError> {
    let mut redis = stores.redis().await?;
    let fields: HashMap<String, String> = stores
        .bounded("redis", async { Ok(redis.hgetall(record::key(id)).await?) })
        .await?;
    StatusRecord::from_fields(id, fields).ok_or(HandlerError::NotFound("booking"))
}

/// The record once it is no longer pending, or as it is after `wait`.
async fn wait_for_change(
    stores: &Stores,
    feed: &UpdateFeed,
    id: &Uuid,
    wait: Duration,
) -> Result<StatusRecord, HandlerError> {
    // Subscribe before the first read, so no change can slip between them.
    let mut updates = feed.subscribe();
    let deadline = Instant::now() + wait;
    let key = id.hyphenated().to_string();

    let mut record = read(stores, id).await?;
    while !record.is_final() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        next_change(&mut updates, &key, left.min(RECHECK)).await;
        record = read(stores, id).await?;
    }
    Ok(record)
}

/// A server-sent event stream of one booking's record.
struct EventStream {
    stores: Arc<Stores>,
    feed: Arc<UpdateFeed>,
    id: Uuid,
    sender: mpsc::Sender<Bytes>,
    keepalive: Duration,
    until: Instant,
}

impl EventStream {
    async fn run(self, first: StatusRecord) {
        let mut updates = self.feed.subscribe();
        let key = self.id.hyphenated().to_string();
        let mut last = first;
        let mut quiet_since = Instant::now();
        if !self.send(event(&last)).await || last.is_final() {
            return;
        }

        while Instant::now() < self.until {
            next_change(&mut updates, &key, RECHECK).await;
            // A failed read is passing (Redis away); the stream goes on until `until`.
            let Ok(current) = read(&self.stores, &self.id).await else {
                continue;
            };
            if current != last {
                if !self.send(event(&current)).await || current.is_final() {
                    return;
                }
                last = current;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= self.keepalive {
                if !self.send(Bytes::from_static(b": keep-alive\n\n")).await {
                    return;
                }
                quiet_since = Instant::now();
            }
        }
    }

    /// `false` once the client is gone.
    async fn send(&self, chunk: Bytes) -> bool {
        self.sender.send(chunk).await.is_ok()
    }
}

fn event(record: &StatusRecord) -> Bytes {
    let data = serde_json::to_string(record).unwrap_or_default();
    Bytes::from(format!("event: status\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, accept: Option<&str>) -> NativeRequest {
        let mut request = NativeRequest::new(Method::GET, uri.parse().unwrap());
        if let Some(accept) = accept {
            request
                .headers
                .insert(header::ACCEPT, accept.parse().unwrap());
        }
        request
    }

    #[test]
    fn only_hyphenated_uuids_are_booking_ids() {
        assert!(booking_id("6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41").is_ok());
        assert!(booking_id("6F1C2A9E-3B7D-4C1E-9A55-0D2F8E7B6A41").is_ok());
        for bad in [
            "42",
            "6f1c2a9e3b7d4c1e9a550d2f8e7b6a41",
            "{6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41}",
            "zzzzzzzz-3b7d-4c1e-9a55-0d2f8e7b6a41",
        ] {
            assert!(booking_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn waits_are_read_and_cut_to_the_maximum() {
        let max = Duration::from_secs(30);
        let wait = |uri: &str| wait_param(&request(uri, None), max);
        assert_eq!(wait("/b/x").unwrap(), None);
        assert_eq!(wait("/b/x?wait=0").unwrap(), None);
        assert_eq!(
            wait("/b/x?wait=2.5").unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(wait("/b/x?wait=3600").unwrap(), Some(max));
        for bad in [
            "/b/x?wait=soon",
            "/b/x?wait=-1",
            "/b/x?wait=NaN",
            "/b/x?wait=inf",
        ] {
            assert!(wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_streams_are_asked_for_by_accept() {
        assert!(wants_event_stream(&request(
            "/b",
            Some("text/event-stream")
        )));
        assert!(wants_event_stream(&request(
            "/b",
            Some("application/json, text/event-stream;q=0.9")
        )));
        assert!(!wants_event_stream(&request(
            "/b",
            Some("application/json")
        )));
        assert!(!wants_event_stream(&request("/b", None)));
    }
}
