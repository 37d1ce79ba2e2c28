//! `/readyz`: whether this edge can serve what its route table promises.
//!
//! Ready means the route table is loaded (it always is once the server runs) and
//! Redis, PostgreSQL and the default upstream all answer within a short deadline.

use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::Config;

/// Longest any one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The result of one check.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// Why it failed; `None` when it passed.
    pub error: Option<String>,
}

/// Runs every check, side by side.
pub async fn check(config: &Config) -> Vec<Check> {
    let (redis, database, upstream) =
        tokio::join!(redis(config), database(config), upstream(config));
    vec![
        Check::from("redis", redis),
        Check::from("postgresql", database),
        Check::from("default_upstream", upstream),
    ]
}

impl Check {
    fn from(name: &'static str, result: Result<(), String>) -> Self {
        Check {
            name,
            ok: result.is_ok(),
            error: result.err(),
        }
    }
}

async fn redis(config: &Config) -> Result<(), String> {
    bounded(async {
        let mut connection = config.stores.redis().await.map_err(|e| e.to_string())?;
        let pong = redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await;
        pong.map(drop).map_err(|e| e.to_string())
    })
    .await
}

async fn database(config: &Config) -> Result<(), String> {
    bounded(async {
        let pool = config.stores.database().await;
        let answer = sqlx::query("SELECT 1").execute(pool).await;
        answer.map(drop).map_err(|e| e.to_string())
    })
    .await
}

/// A probe that has not answered within [`CHECK_TIMEOUT`] has failed.
async fn bounded(
    probe: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    timeout(CHECK_TIMEOUT, probe)
        .await
        .map_err(|_| "no answer in time".to_owned())?
}

async fn upstream(config: &Config) -> Result<(), String> {
    // One address that accepts a connection is enough to pass traffic through.
    let mut last_error = String::from("no address");
    for address in config.default_upstream.addresses() {
        match timeout(CHECK_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last_error = format!("{address}: {e}"),
            Err(_) => last_error = format!("{address}: no answer in time"),
        }
    }
    Err(last_error)
}
