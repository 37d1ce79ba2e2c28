//! The on-sale spike: thousands of virtual fans arriving over a ramp, each reading the
//! event, asking for seats and following the booking until it is decided.
//!
//! A fan's visit:
//! 1. `GET /api/events/{id}`, expecting `200`;
//! 2. `POST /api/bookings` with a fresh `Idempotency-Key`, expecting `202`; an
//!    `overloaded` `503` is retried with the same key after its `Retry-After`;
//! 3. `GET {status_url}?wait=N` until the status is final or the run's deadline passes.
//!
//! An error before the booking is accepted ends the visit, as a fan who saw an error
//! page would leave; an error while following an accepted booking is retried after a
//! pause, because the booking exists and the fan wants to know its fate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Request, StatusCode, Uri};
use rand::Rng;
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};
use uuid::Uuid;

use crate::client::{Body, Failure, Http, Reply};
use crate::record::{ClientEnd, FinalStatus, Recorder, Step};

/// Longest any one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest honoured `Retry-After`: a fan at an on-sale does not wait out a long one.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// Upper bound of the random delay added to a retry, so refused fans do not all come
/// back in the same instant.
const MAX_JITTER: Duration = Duration::from_millis(250);

/// Pause before polling again after a failed status poll.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Shortest gap between two polls of one booking. A long poll normally answers only
/// on a change; this keeps a fan from spinning when it answers `pending` at once
/// (`--wait 0`, or the last second before the deadline).
const MIN_POLL_GAP: Duration = Duration::from_millis(500);

/// What the command line decides about a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://host:port`, without a trailing slash.
    pub base_url: String,
    pub clients: u32,
    pub ramp: Duration,
    pub event_id: i64,
    /// Seconds each status poll asks the server to hold the request.
    pub wait: u64,
    pub retries: u32,
    pub deadline: Duration,
}

/// What a finished run hands to the report.
pub struct Outcome {
    pub recorder: Recorder,
    pub duration: Duration,
}

/// Runs every fan to the end of its visit, or to the deadline.
pub async fn run(settings: Settings) -> Outcome {
    let start = Instant::now();
    let spike = Arc::new(Spike {
        http: Http::new(),
        recorder: Mutex::new(Recorder::default()),
        start,
        deadline: start + settings.deadline,
        settings,
    });
    let mut fans = JoinSet::new();
    for n in 0..spike.settings.clients {
        let spike = Arc::clone(&spike);
        fans.spawn(async move { spike.fan(n).await });
    }
    while let Some(joined) = fans.join_next().await {
        if let Err(error) = joined {
            // A panicking fan is a bug in this program; its numbers would be wrong.
            std::panic::resume_unwind(error.into_panic());
        }
    }
    let duration = start.elapsed();
    let spike = Arc::into_inner(spike).expect("every fan has finished");
    Outcome {
        recorder: spike
            .recorder
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
        duration,
    }
}

/// A booking's `202` answer.
#[derive(Deserialize)]
struct Accepted {
    status_url: String,
}

/// The part of a status record a fan reads.
#[derive(Deserialize)]
struct StatusRecord {
    status: String,
}

/// The `error` code of a JSON error answer.
#[derive(Deserialize)]
struct Problem {
    error: String,
}

/// How the booking request ended.
enum Booking {
    /// Accepted at this instant; the status is at this URL.
    Accepted(Uri, Instant),
    Refused,
    Failed,
}

/// State shared by all fans of one run.
struct Spike {
    http: Http,
    recorder: Mutex<Recorder>,
    start: Instant,
    deadline: Instant,
    settings: Settings,
}

impl Spike {
    async fn fan(&self, n: u32) {
        sleep_until(self.start + self.arrival(n)).await;
        let end = self.visit(n).await;
        let at = self.at();
        self.record(|r| r.finished(at, end));
    }

    /// Arrivals are spread evenly over the ramp, the first at once.
    fn arrival(&self, n: u32) -> Duration {
        self.settings
            .ramp
            .mul_f64(f64::from(n) / f64::from(self.settings.clients))
    }

    async fn visit(&self, n: u32) -> ClientEnd {
        if !self.read_event().await {
            return ClientEnd::Abandoned;
        }
        match self.book(n).await {
            Booking::Accepted(status_url, accepted) => self.follow(&status_url, accepted).await,
            Booking::Refused => ClientEnd::Refused,
            Booking::Failed => ClientEnd::Abandoned,
        }
    }

    /// Step 1: the event page.
    async fn read_event(&self) -> bool {
        let step = Step::EventRead;
        let path = format!("/api/events/{}", self.settings.event_id);
        let Some(url) = self.url(&path) else {
            return self.failed(step, "unusable event URL");
        };
        let reply = match self.exchange(step, get(url)).await {
            Ok(reply) => reply,
            Err(failure) => return self.failed(step, &self.failure_reason(&failure)),
        };
        if reply.status != StatusCode::OK {
            return self.failed(step, &unexpected(&reply));
        }
        if serde_json::from_slice::<serde_json::Value>(&reply.body).is_err() {
            return self.failed(step, "200 unparsable body");
        }
        true
    }

    /// Step 2: ask for seats, retrying overload refusals with the same key so a
    /// retry can never make a second booking.
    async fn book(&self, n: u32) -> Booking {
        let step = Step::BookingAccept;
        let key = Uuid::new_v4();
        let body = booking_body(self.settings.event_id, n);
        let Some(url) = self.url("/api/bookings") else {
            return Booking::Failed;
        };
        for attempt in 0..=self.settings.retries {
            let reply = match self.exchange(step, post(url.clone(), &key, &body)).await {
                Ok(reply) => reply,
                Err(failure) => {
                    self.failed(step, &self.failure_reason(&failure));
                    return Booking::Failed;
                }
            };
            if reply.status == StatusCode::ACCEPTED {
                return self.accepted(&reply);
            }
            if !is_overloaded(&reply) {
                self.failed(step, &unexpected(&reply));
                return Booking::Failed;
            }
            self.record(|r| r.refused_attempt());
            if attempt == self.settings.retries || !self.pause(retry_pause(&reply)).await {
                break;
            }
        }
        Booking::Refused
    }

    /// Reads a `202`: where to follow the booking.
    fn accepted(&self, reply: &Reply) -> Booking {
        let step = Step::BookingAccept;
        let Ok(accepted) = serde_json::from_slice::<Accepted>(&reply.body) else {
            self.failed(step, "202 unparsable body");
            return Booking::Failed;
        };
        let Some(status_url) = self.url(&accepted.status_url) else {
            self.failed(step, "202 unusable status_url");
            return Booking::Failed;
        };
        let now = Instant::now();
        let at = now - self.start;
        self.record(|r| r.accepted(at));
        Booking::Accepted(status_url, now)
    }

    /// Step 3: long-poll the status until it is final or the deadline passes.
    async fn follow(&self, status_url: &Uri, accepted: Instant) -> ClientEnd {
        let step = Step::StatusPoll;
        loop {
            let left = self.time_left();
            if left.is_zero() {
                return ClientEnd::Lost;
            }
            // Never ask the server to hold a poll past the deadline.
            let wait = self.settings.wait.min(left.as_secs());
            let Some(url) = with_wait(status_url, wait) else {
                self.failed(step, "unusable status_url");
                return ClientEnd::Lost;
            };
            let sent = Instant::now();
            let pause = match self.exchange(step, get(url)).await {
                Ok(reply) => match self.read_status(&reply) {
                    Some(Some(status)) => {
                        return ClientEnd::Final(status, Instant::now() - accepted);
                    }
                    Some(None) => MIN_POLL_GAP.saturating_sub(sent.elapsed()),
                    None => ERROR_PAUSE,
                },
                Err(_) if self.time_left().is_zero() => return ClientEnd::Lost,
                Err(failure) => {
                    self.failed(step, &self.failure_reason(&failure));
                    ERROR_PAUSE
                }
            };
            self.pause(pause).await;
        }
    }

    /// The final status of a poll's answer, `Some(None)` while pending, `None` (and
    /// an error recorded) when the answer is not a status record.
    fn read_status(&self, reply: &Reply) -> Option<Option<FinalStatus>> {
        let step = Step::StatusPoll;
        if reply.status != StatusCode::OK {
            self.failed(step, &unexpected(reply));
            return None;
        }
        let Ok(record) = serde_json::from_slice::<StatusRecord>(&reply.body) else {
            self.failed(step, "200 unparsable body");
            return None;
        };
        match (FinalStatus::parse(&record.status), record.status.as_str()) {
            (Some(status), _) => Some(Some(status)),
            (None, "pending") => Some(None),
            (None, other) => {
                self.failed(step, &format!("200 unknown status {other}"));
                None
            }
        }
    }

    /// Sends one request within the time left, recording the latency of any answer.
    async fn exchange(&self, step: Step, request: Request<Body>) -> Result<Reply, Failure> {
        let limit = self.time_left().min(REQUEST_TIMEOUT);
        let attempt = self.http.send(request, limit).await;
        // A timed-out request counts at the time it was given, or the percentiles
        // would look better the more requests time out.
        if matches!(attempt.result, Ok(_) | Err(Failure::TimedOut)) {
            let at = self.at();
            self.record(|r| r.response(at, step, attempt.latency));
        }
        attempt.result
    }

    /// Records an error of `step`; returns `false` so callers can end a step with it.
    fn failed(&self, step: Step, reason: &str) -> bool {
        let at = self.at();
        let reason = format!("{}: {reason}", step.name());
        self.record(|r| r.error(at, reason));
        false
    }

    /// A timeout caused by the run's deadline is told apart from a slow server.
    fn failure_reason(&self, failure: &Failure) -> String {
        match failure {
            Failure::TimedOut if self.time_left().is_zero() => "deadline".to_owned(),
            other => other.to_string(),
        }
    }

    /// Sleeps for `pause`, cut at the deadline; whether time is left afterwards.
    async fn pause(&self, pause: Duration) -> bool {
        sleep(pause.min(self.time_left())).await;
        !self.time_left().is_zero()
    }

    /// `path` on the server under test; a full URL is taken as it is.
    fn url(&self, path: &str) -> Option<Uri> {
        if path.starts_with("http://") {
            return path.parse().ok();
        }
        format!("{}{path}", self.settings.base_url).parse().ok()
    }

    fn record(&self, update: impl FnOnce(&mut Recorder)) {
        // A poisoned lock only means another fan panicked, which ends the run anyway.
        let mut recorder = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        update(&mut recorder);
    }

    fn at(&self) -> Duration {
        self.start.elapsed()
    }

    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// The booking request of fan `n`: one to four seats, as fans ask for.
fn booking_body(event_id: i64, n: u32) -> Bytes {
    let quantity: u32 = rand::rng().random_range(1..=4);
    let body = serde_json::json!({
        "event_id": event_id,
        "quantity": quantity,
        "user_ref": format!("fan-{n}"),
    });
    Bytes::from(body.to_string())
}

fn get(uri: Uri) -> Request<Body> {
    let mut request = Request::new(Body::new(Bytes::new()));
    *request.uri_mut() = uri;
    request
}

fn post(uri: Uri, key: &Uuid, body: &Bytes) -> Request<Body> {
    let mut request = Request::new(Body::new(body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let key = HeaderValue::from_str(&key.to_string()).expect("a UUID is a valid header value");
    headers.insert("idempotency-key", key);
    request
}

/// The status URL asking the server to hold the answer up to `wait` seconds.
fn with_wait(status_url: &Uri, wait: u64) -> Option<Uri> {
    let separator = if status_url.query().is_some() {
        '&'
    } else {
        '?'
    };
    format!("{status_url}{separator}wait={wait}").parse().ok()
}

/// Whether a reply is the admission control's refusal, the one answer worth a retry.
fn is_overloaded(reply: &Reply) -> bool {
    reply.status == StatusCode::SERVICE_UNAVAILABLE
        && error_code(reply).as_deref() == Some("overloaded")
}

fn error_code(reply: &Reply) -> Option<String> {
    serde_json::from_slice::<Problem>(&reply.body)
        .ok()
        .map(|p| p.error)
}

/// "503 unavailable": the status and, when the body is a JSON error, its code.
fn unexpected(reply: &Reply) -> String {
    match error_code(reply) {
        Some(code) => format!("{} {code}", reply.status.as_u16()),
        None => reply.status.as_u16().to_string(),
    }
}

/// How long a refused fan waits before trying again.
fn retry_pause(reply: &Reply) -> Duration {
    let retry_after = reply
        .headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let jitter = rand::rng().random_range(Duration::ZERO..=MAX_JITTER);
    backoff(retry_after, jitter)
}

/// `Retry-After` seconds, at most `MAX_RETRY_PAUSE`, plus `jitter`. A missing or
/// unreadable header (an HTTP date, say) counts as the longest pause.
fn backoff(retry_after: Option<u64>, jitter: Duration) -> Duration {
    let asked = retry_after.map_or(MAX_RETRY_PAUSE, Duration::from_secs);
    asked.min(MAX_RETRY_PAUSE) + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let jitter = Duration::from_millis(100);
        assert_eq!(backoff(Some(1), jitter), Duration::from_millis(1100));
        assert_eq!(backoff(Some(5), jitter), Duration::from_millis(2100));
        assert_eq!(backoff(None, Duration::ZERO), MAX_RETRY_PAUSE);
        assert_eq!(backoff(Some(0), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_wait_joins_any_query_the_status_url_has() {
        let plain: Uri = "http://127.0.0.1:1/api/bookings/x".parse().unwrap();
        let with_query: Uri = "http://127.0.0.1:1/api/bookings/x?a=1".parse().unwrap();
        assert_eq!(
            with_wait(&plain, 25).unwrap().to_string(),
            "http://127.0.0.1:1/api/bookings/x?wait=25"
        );
        assert_eq!(
            with_wait(&with_query, 3).unwrap().query(),
            Some("a=1&wait=3")
        );
    }
}
