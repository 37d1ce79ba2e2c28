//! Connections to the shared PostgreSQL and to Redis, opened lazily and shared by every
//! handler of one route table.
//!
//! Both are opened on first use from inside the serving runtime: sqlx pools and
//! redis-rs connection managers spawn background tasks on the runtime that creates them,
//! and the edge's runtime only exists once the server runs. Neither is required at
//! start-up, so the edge still passes traffic through while a store is down; the native
//! routes that need it answer `503` until it is back.

use std::str::FromStr;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::OnceCell;

use crate::HandlerError;

/// Where the stores are and how long to wait for them.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// PostgreSQL URL of the edge's read-only role.
    pub database_url: String,
    /// Redis URL, database included (`redis://host:6379/0`).
    pub redis_url: String,
    /// Longest wait for a new connection, and for a free one from the pool.
    pub connect_timeout: Duration,
    /// Longest a single query or Redis command may take.
    pub command_timeout: Duration,
    /// Most PostgreSQL connections the edge holds.
    pub database_pool_size: u32,
}

/// Lazily opened store connections.
pub struct Stores {
    settings: StoreSettings,
    database_options: PgConnectOptions,
    redis_client: redis::Client,
    database: OnceCell<PgPool>,
    redis: OnceCell<ConnectionManager>,
}

impl Stores {
    /// Checks both URLs without connecting.
    pub fn new(settings: StoreSettings) -> Result<Self, String> {
        let database_options = PgConnectOptions::from_str(&settings.database_url)
            .map_err(|e| format!("database_url: {e}"))?
            .options([
                // Belt and braces: the role is read-only, and so is every session.
                ("default_transaction_read_only", "on".to_owned()),
                (
                    "statement_timeout",
                    settings.command_timeout.as_millis().to_string(),
                ),
            ]);
        let redis_client = redis::Client::open(settings.redis_url.as_str())
            .map_err(|e| format!("redis_url: {e}"))?;

        Ok(Stores {
            settings,
            database_options,
            redis_client,
            database: OnceCell::new(),
            redis: OnceCell::new(),
        })
    }

    /// The Redis client, for connections of their own (subscriptions).
    pub fn redis_client(&self) -> &redis::Client {
        &self.redis_client
    }

    /// The settings these stores were made with.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// The PostgreSQL pool, created on first use.
    pub async fn database(&self) -> &PgPool {
        self.database
            .get_or_init(|| async {
                PgPoolOptions::new()
                    .max_connections(self.settings.database_pool_size)
                    .acquire_timeout(self.settings.connect_timeout)
                    .connect_lazy_with(self.database_options.clone())
            })
            .await
    }

    /// A handle on the shared, self-reconnecting Redis connection.
    pub async fn redis(&self) -> Result<ConnectionManager, HandlerError> {
        let manager = self
            .redis
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.settings.connect_timeout))
                    .set_response_timeout(Some(self.settings.command_timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.redis_client.clone(), config)
            })
            .await?;
        Ok(manager.clone())
    }

    /// Runs a store operation, turning an overrun of the command timeout into
    /// [`HandlerError::StoreUnavailable`].
    pub async fn bounded<T, F>(&self, store: &'static str, operation: F) -> Result<T, HandlerError>
    where
        F: std::future::Future<Output = Result<T, HandlerError>>,
    {
        // Connecting and retrying both count: the client never waits longer than this.
        let limit = self.settings.connect_timeout + self.settings.command_timeout;
        match tokio::time::timeout(limit, operation).await {
            Ok(result) => result,
            Err(_) => Err(HandlerError::StoreUnavailable {
                store,
                detail: format!("no answer within {limit:?}"),
            }),
        }
    }
}

/// Stores pointing at closed ports, for tests that build handlers without using them.
#[cfg(test)]
pub(crate) fn test_stores() -> std::sync::Arc<Stores> {
    let settings = StoreSettings {
        database_url: "postgres://edge@127.0.0.1:1/db".into(),
        redis_url: "redis://127.0.0.1:1/0".into(),
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(1),
        database_pool_size: 1,
    };
    std::sync::Arc::new(Stores::new(settings).expect("valid test URLs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(database_url: &str, redis_url: &str) -> StoreSettings {
        StoreSettings {
            database_url: database_url.into(),
            redis_url: redis_url.into(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            database_pool_size: 4,
        }
    }

    #[test]
    fn urls_are_checked_without_connecting() {
        assert!(Stores::new(settings(
            "postgres://u@127.0.0.1:1/db",
            "redis://127.0.0.1:1/0"
        ))
        .is_ok());

        let error = Stores::new(settings("mysql//nope", "redis://127.0.0.1/0"))
            .err()
            .unwrap();
        assert!(error.starts_with("database_url"), "{error}");

        let error = Stores::new(settings("postgres://u@h/db", "http://nope"))
            .err()
            .unwrap();
        assert!(error.starts_with("redis_url"), "{error}");
    }
}
