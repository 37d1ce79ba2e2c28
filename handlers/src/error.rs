//! Handler errors and the one table that turns them into client responses.
//!
//! A handler returns a [`HandlerError`] that says what went wrong in its own words;
//! [`HandlerError::problem`] is the only place that decides the status code, the
//! machine-readable `error` code and what the client may read. Internals (driver
//! messages, addresses) stay in the log: a [`Problem`] carries only text meant for the
//! client.

use std::time::Duration;

use http::StatusCode;

/// How long a client is told to wait before retrying when a store is unreachable.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a native handler could not answer normally.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The body is not JSON at all.
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),

    /// A path or query parameter has the wrong form.
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// The body is not declared as JSON.
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),

    /// The body is larger than the route allows.
    #[error("body over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },

    /// The body's framing is broken (a bad chunk, say).
    #[error("malformed request body: {0}")]
    MalformedBody(String),

    /// The client stopped sending its body.
    #[error("request body timed out")]
    BodyTimeout,

    /// The JSON is well formed but a field fails validation.
    #[error("field `{field}`: {message}")]
    InvalidField { field: String, message: String },

    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),

    /// A header has the wrong form.
    #[error("invalid header `{name}`: {message}")]
    InvalidHeader { name: &'static str, message: String },

    /// The request contradicts an earlier one (an idempotency key reused for another body).
    #[error("conflict: {0}")]
    Conflict(String),

    /// Accepting the request now would only queue work that cannot be done in time.
    #[error("overloaded: {reason}")]
    Overloaded {
        reason: String,
        retry_after: Duration,
    },

    /// PostgreSQL or Redis could not be reached in time.
    #[error("{store} unavailable: {detail}")]
    StoreUnavailable { store: &'static str, detail: String },

    /// A fault of ours; the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A client-facing error: status, stable code, and a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable, machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` when set.
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// A problem without `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl HandlerError {
    /// The status table: every handler error becomes exactly one client response.
    pub fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            Self::MalformedJson(why) => Problem::new(
                S::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {why}"),
            ),
            Self::InvalidParameter { name, message } => Problem::new(
                S::BAD_REQUEST,
                "invalid_parameter",
                format!("{name}: {message}"),
            ),
            Self::UnsupportedMediaType(found) => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the body as application/json (got {found:?})"),
            ),
            Self::BodyTooLarge { limit: 0 } => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "this route takes no request body",
            ),
            Self::BodyTooLarge { limit } => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body must be at most {limit} bytes"),
            ),
            Self::MalformedBody(why) => Problem::new(
                S::BAD_REQUEST,
                "malformed_body",
                format!("the request body could not be read: {why}"),
            ),
            Self::BodyTimeout => Problem::new(
                S::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            ),
            Self::InvalidField { field, message } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{field}: {message}"),
            ),
            Self::InvalidHeader { name, message } => Problem::new(
                S::BAD_REQUEST,
                "invalid_header",
                format!("{name}: {message}"),
            ),
            Self::Conflict(message) => Problem::new(S::CONFLICT, "conflict", message.clone()),
            Self::Overloaded { retry_after, .. } => Problem {
                retry_after: Some(*retry_after),
                ..Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "bookings are arriving faster than they can be processed; retry later",
                )
            },
            Self::NotFound(what) => {
                Problem::new(S::NOT_FOUND, "not_found", format!("no such {what}"))
            }
            Self::StoreUnavailable { .. } => Problem {
                retry_after: Some(STORE_RETRY_AFTER),
                ..Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is briefly unavailable; retry shortly",
                )
            },
            Self::Internal(_) => Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "the request could not be completed",
            ),
        }
    }

    /// Whether this error is the server's fault (logged as an error, not as the
    /// client's mistake).
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::StoreUnavailable { .. } | Self::Internal(_))
    }

    /// A field that fails validation.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match error {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                Self::StoreUnavailable {
                    store: "postgresql",
                    detail: error.to_string(),
                }
            }
            other => Self::Internal(format!("postgresql: {other}")),
        }
    }
}

impl From<redis::RedisError> for HandlerError {
    fn from(error: redis::RedisError) -> Self {
        let unreachable = error.is_io_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_unrecoverable_error();
        if unreachable {
            Self::StoreUnavailable {
                store: "redis",
                detail: error.to_string(),
            }
        } else {
            Self::Internal(format!("redis: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code() {
        let table = [
            (
                HandlerError::MalformedJson("x".into()),
                400,
                "malformed_json",
            ),
            (
                HandlerError::InvalidParameter {
                    name: "id",
                    message: "x".into(),
                },
                400,
                "invalid_parameter",
            ),
            (
                HandlerError::UnsupportedMediaType("text/plain".into()),
                415,
                "unsupported_media_type",
            ),
            (
                HandlerError::BodyTooLarge { limit: 9 },
                413,
                "body_too_large",
            ),
            (
                HandlerError::invalid_field("quantity", "x"),
                422,
                "invalid_field",
            ),
            (HandlerError::NotFound("event"), 404, "not_found"),
            (
                HandlerError::InvalidHeader {
                    name: "Idempotency-Key",
                    message: "x".into(),
                },
                400,
                "invalid_header",
            ),
            (HandlerError::Conflict("x".into()), 409, "conflict"),
            (
                HandlerError::Overloaded {
                    reason: "queue full".into(),
                    retry_after: Duration::from_secs(5),
                },
                503,
                "overloaded",
            ),
            (
                HandlerError::StoreUnavailable {
                    store: "redis",
                    detail: "refused".into(),
                },
                503,
                "unavailable",
            ),
            (HandlerError::Internal("boom".into()), 500, "internal"),
        ];
        for (error, status, code) in table {
            let problem = error.problem();
            assert_eq!(problem.status.as_u16(), status, "{error}");
            assert_eq!(problem.code, code, "{error}");
        }
    }

    #[test]
    fn unavailable_stores_ask_for_a_retry_and_hide_details() {
        let problem = HandlerError::StoreUnavailable {
            store: "redis",
            detail: "connection refused at 10.0.0.5:6379".into(),
        }
        .problem();
        assert!(problem.retry_after.is_some());
        assert!(!problem.message.contains("10.0.0.5"));
    }

    #[test]
    fn field_errors_name_the_field() {
        let problem = HandlerError::invalid_field("quantity", "must be 1 to 10").problem();
        assert!(problem.message.starts_with("quantity:"));
    }
}
