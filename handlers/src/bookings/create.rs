//! `bookings.create`: validate, enqueue for the worker, answer `202` at once.
//!
//! A booking is only ever answered `202` after Redis has accepted both the job and its
//! `pending` record; any failure before that is an error response and nothing is
//! queued.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use http::{header, HeaderValue, Method, StatusCode};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::job::{self, Booking, JobSettings, Retry, TimestampFormat};
use super::queue::{self, Admission, Enqueue, Enqueued, Idempotency};
use super::{record, validate};
use crate::options::{self, OptionsError};
use crate::{json_response, Gauge, Handler, HandlerError, HandlerResult, NativeRequest, Stores};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CreateOptions {
    /// Sidekiq queue the worker reads.
    queue: String,
    /// Job class the worker runs.
    job_class: String,
    /// How long a queued booking stays worth processing.
    #[serde(deserialize_with = "options::duration")]
    lifespan: Duration,
    /// Sidekiq's `retry` for the job.
    retry: Retry,
    /// Largest request body, in bytes.
    max_body: usize,
    /// Major version of the worker fleet's Sidekiq: 6, 7 or 8.
    sidekiq_version: u8,
    /// Where a client polls the booking; `{id}` is replaced by the booking id.
    status_path: String,
    /// Most jobs the queue may hold before bookings are refused; none by default.
    max_queue_depth: Option<u64>,
    /// Oldest the queue's oldest job may be before bookings are refused. Defaults to
    /// `lifespan`: past it, a new booking would only wait to expire. `"0s"` turns it off.
    #[serde(deserialize_with = "options::optional_duration")]
    max_queue_latency: Option<Duration>,
    /// How long an `Idempotency-Key` is remembered.
    #[serde(deserialize_with = "options::duration")]
    idempotency_ttl: Duration,
    /// `Retry-After` sent with a refusal for overload.
    #[serde(deserialize_with = "options::duration")]
    overload_retry_after: Duration,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            queue: "bookings".into(),
            job_class: "BookingJob".into(),
            lifespan: Duration::from_secs(120),
            retry: Retry::Enabled(true),
            max_body: 16 * 1024,
            sidekiq_version: 7,
            status_path: "/api/bookings/{id}".into(),
            max_queue_depth: None,
            max_queue_latency: None,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            overload_retry_after: Duration::from_secs(5),
        }
    }
}

struct CreateBooking {
    job: JobSettings,
    max_body: usize,
    status_path: String,
    admission: Admission,
    idempotency_ttl: Duration,
    overload_retry_after: Duration,
    stores: Arc<Stores>,
}

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The `202` body.
#[derive(Serialize)]
struct Accepted<'a> {
    booking_id: &'a str,
    status: &'a str,
    status_url: &'a str,
}

pub(super) fn build(
    table: &toml::Table,
    stores: &Arc<Stores>,
) -> Result<Arc<dyn Handler>, OptionsError> {
    let options: CreateOptions = options::parse(table)?;
    let job = job_settings(&options)?;
    if !options.status_path.starts_with('/') || !options.status_path.contains("{id}") {
        return Err(OptionsError(
            "status_path must start with / and contain {id}".into(),
        ));
    }
    if options.max_body == 0 {
        return Err(OptionsError("max_body must be at least 1".into()));
    }
    let max_latency = options.max_queue_latency.unwrap_or(options.lifespan);
    let admission = Admission {
        max_depth: options.max_queue_depth.filter(|depth| *depth > 0),
        max_latency: (!max_latency.is_zero()).then_some(max_latency),
    };
    Ok(Arc::new(CreateBooking {
        job,
        max_body: options.max_body,
        status_path: options.status_path,
        admission,
        idempotency_ttl: options.idempotency_ttl,
        overload_retry_after: options.overload_retry_after,
        stores: stores.clone(),
    }))
}

fn job_settings(options: &CreateOptions) -> Result<JobSettings, OptionsError> {
    let timestamps = TimestampFormat::for_sidekiq(options.sidekiq_version)
        .ok_or_else(|| OptionsError("sidekiq_version must be 6, 7 or 8".into()))?;
    if !is_queue_name(&options.queue) {
        return Err(OptionsError(
            "queue must be letters, digits, `_`, `-`, `.` or `:`".into(),
        ));
    }
    if !is_class_name(&options.job_class) {
        return Err(OptionsError(
            "job_class must be a Ruby class name such as BookingJob".into(),
        ));
    }
    if options.lifespan.is_zero() {
        return Err(OptionsError("lifespan must be longer than zero".into()));
    }
    Ok(JobSettings {
        queue: options.queue.clone(),
        class: options.job_class.clone(),
        retry: options.retry,
        lifespan_ms: options.lifespan.as_millis().try_into().unwrap_or(i64::MAX),
        timestamps,
    })
}

fn is_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn is_class_name(name: &str) -> bool {
    name.split("::").all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[async_trait]
impl Handler for CreateBooking {
    async fn handle(&self, request: NativeRequest) -> HandlerResult {
        validate::require_json(request.header("content-type"))?;
        let fields = validate::parse(&request.body)?;
        let key = idempotency_key(&request)?;
        let booking = Booking {
            id: Uuid::new_v4(),
            event_id: fields.event_id,
            user_ref: fields.user_ref.clone(),
            quantity: fields.quantity,
        };

        let jid = job::new_jid();
        let now = now_ms();
        let payload = job::payload(&self.job, &booking, &jid, now);
        let fingerprint = fields.fingerprint();
        let request = Enqueue {
            queue: &self.job.queue,
            payload: &payload,
            booking: &booking,
            jid: &jid,
            admission: self.admission,
            idempotency: key.map(|key| self.idempotency(key, &fingerprint)),
            now_ms: now,
        };
        let mut redis = self.stores.redis().await?;
        let outcome = self
            .stores
            .bounded("redis", queue::enqueue(&mut redis, &request))
            .await?;
        self.answer(outcome, &booking, &mut redis).await
    }

    fn body_limit(&self) -> usize {
        self.max_body
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::POST]
    }

    async fn gauges(&self) -> Vec<Gauge> {
        let stats = async {
            let mut redis = self.stores.redis().await?;
            self.stores
                .bounded("redis", queue::stats(&mut redis, &self.job.queue, now_ms()))
                .await
        };
        match stats.await {
            Ok((depth, latency)) => vec![
                self.gauge("booking_queue_depth", depth as f64),
                self.gauge("booking_queue_latency_seconds", latency.as_secs_f64()),
            ],
            Err(e) => {
                log::warn!("queue {} not measured: {e}", self.job.queue);
                Vec::new()
            }
        }
    }
}

impl CreateBooking {
    fn idempotency<'a>(&self, key: &str, fingerprint: &'a str) -> Idempotency<'a> {
        Idempotency {
            key: format!("switchyard:idempotency:{}:{key}", self.job.queue),
            fingerprint,
            ttl: self.idempotency_ttl,
        }
    }

    /// Turns the script's decision into the client's answer.
    async fn answer(
        &self,
        outcome: Enqueued,
        booking: &Booking,
        redis: &mut ConnectionManager,
    ) -> HandlerResult {
        match outcome {
            Enqueued::Queued => {
                self.accepted(&booking.id.hyphenated().to_string(), "pending", false)
            }
            Enqueued::Replay(id) => {
                let status = self.current_status(redis, &id).await?;
                self.accepted(&id, &status, true)
            }
            Enqueued::Conflict => Err(HandlerError::Conflict(
                "this Idempotency-Key was already used for a different booking request".into(),
            )),
            Enqueued::Full { depth } => Err(self.overloaded(format!("queue holds {depth} jobs"))),
            Enqueued::Late { latency } => {
                Err(self.overloaded(format!("oldest job waited {latency:?}")))
            }
        }
    }

    fn gauge(&self, name: &'static str, value: f64) -> Gauge {
        Gauge {
            name,
            subject: self.job.queue.clone(),
            value,
        }
    }

    fn overloaded(&self, reason: String) -> HandlerError {
        HandlerError::Overloaded {
            reason,
            retry_after: self.overload_retry_after,
        }
    }

    /// The status of an earlier booking, for a replayed request.
    async fn current_status(
        &self,
        redis: &mut ConnectionManager,
        id: &str,
    ) -> Result<String, HandlerError> {
        let key = record::key(&id);
        let status: Option<String> = self
            .stores
            .bounded("redis", async { Ok(redis.hget(key, "status").await?) })
            .await?;
        // The record lives as long as the key; a missing one can only be pending.
        Ok(status.unwrap_or_else(|| "pending".into()))
    }

    fn accepted(&self, id: &str, status: &str, replayed: bool) -> HandlerResult {
        let status_url = self.status_path.replace("{id}", id);
        let body = Accepted {
            booking_id: id,
            status,
            status_url: &status_url,
        };

        let mut response = json_response(StatusCode::ACCEPTED, &body)?;
        let headers = response.headers_mut();
        let location = HeaderValue::from_str(&status_url)
            .map_err(|e| HandlerError::Internal(format!("status url: {e}")))?;
        headers.insert(header::LOCATION, location);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok(response)
    }
}

/// The request's `Idempotency-Key`, when it sent one.
fn idempotency_key(request: &NativeRequest) -> Result<Option<&str>, HandlerError> {
    let Some(value) = request.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    let printable = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !printable {
        return Err(HandlerError::InvalidHeader {
            name: "Idempotency-Key",
            message: format!(
                "must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces"
            ),
        });
    }
    Ok(Some(key))
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_millis().try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options_from(text: &str) -> Result<JobSettings, OptionsError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        job_settings(&options::parse(&table)?)
    }

    #[test]
    fn options_have_contract_defaults() {
        let settings = options_from("").unwrap();
        assert_eq!(settings.queue, "bookings");
        assert_eq!(settings.class, "BookingJob");
        assert_eq!(settings.retry, Retry::Enabled(true));
        assert_eq!(settings.lifespan_ms, 120_000);
        assert_eq!(settings.timestamps, TimestampFormat::FloatSeconds);
    }

    #[test]
    fn options_are_read_and_checked() {
        let settings =
            options_from("queue = \"vip\"\nretry = 5\nlifespan = \"30s\"\nsidekiq_version = 8")
                .unwrap();
        assert_eq!(settings.queue, "vip");
        assert_eq!(settings.retry, Retry::Attempts(5));
        assert_eq!(settings.lifespan_ms, 30_000);
        assert_eq!(settings.timestamps, TimestampFormat::IntegerMillis);

        for bad in [
            "sidekiq_version = 5",
            "queue = \"a b\"",
            "job_class = \"booking_job\"",
            "lifespan = \"0s\"",
            "retry = \"yes\"",
        ] {
            assert!(options_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn class_names_may_be_namespaced() {
        assert!(is_class_name("Bookings::CreateJob"));
        assert!(!is_class_name("Bookings::"));
        assert!(!is_class_name(""));
    }
}
