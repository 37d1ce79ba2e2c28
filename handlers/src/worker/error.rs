//! The worker's two kinds of error: those that stop it from starting, and those that
//! fail one job through no fault of the job (and so follow Sidekiq's retry rules).

/// Why the worker could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A setting is out of range; the message says what to change.
    #[error("--{name}: {message}")]
    Setting { name: &'static str, message: String },

    /// The PostgreSQL URL cannot be parsed.
    #[error("database URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),

    /// The Redis URL cannot be parsed.
    #[error("redis URL: {0}")]
    RedisUrl(#[source] redis::RedisError),

    /// The database role cannot write bookings: the edge's read-only role, say. Every
    /// job would fail into `retry`, so the worker refuses to start instead.
    #[error(
        "the database role cannot write bookings and events (is it the edge's read-only \
         role?); give --database-url a role that can"
    )]
    ReadOnlyDatabase,

    /// Redis did not answer at start-up. Without it the worker can neither fetch nor
    /// register itself, so it refuses to start rather than idle silently.
    #[error("cannot reach Redis: {0}")]
    RedisUnavailable(#[source] redis::RedisError),
}

/// Why one job could not be run, when the job itself is not to blame.
///
/// These become Sidekiq's `error_class` and `error_message` on the retried payload, so
/// the Sidekiq Web UI shows them as it shows failures of the Ruby worker.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// PostgreSQL could not be reached or refused a statement.
    #[error("{0}")]
    Database(#[from] sqlx::Error),

    /// The job names a class this worker does not run.
    #[error("uninitialized constant {0}")]
    UnknownClass(String),

    /// The booking transaction did not finish in time; it may or may not have
    /// committed, which a later delivery finds out.
    #[error("the booking transaction took longer than {0:?}")]
    TimedOut(std::time::Duration),
}

impl JobFailure {
    /// The Ruby-style class name Sidekiq stores in `error_class`.
    pub fn error_class(&self) -> &'static str {
        match self {
            Self::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                "Switchyard::DatabaseUnavailable"
            }
            Self::Database(_) => "Switchyard::DatabaseError",
            // What Ruby raises for a class it cannot find, so both workers agree.
            Self::UnknownClass(_) => "NameError",
            Self::TimedOut(_) => "Switchyard::JobTimeout",
        }
    }
}
