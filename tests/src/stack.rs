//! The whole stack for one test: a fresh database, a unique booking queue, a
//! recording upstream, and the real edge running the shipped `routes.toml`.
//!
//! Running the shipped file (rather than a test-only copy) means every suite that
//! uses this also proves the file operators start from.

use crate::{workspace_root, Edge, EdgeConfig, RecordingUpstream, TestDatabase, TestRedis};

/// Everything a native-route test talks to.
pub struct Stack {
    pub database: TestDatabase,
    pub redis: TestRedis,
    /// The booking queue this stack's edge enqueues to.
    pub queue: String,
    pub upstream: RecordingUpstream,
    pub edge: Edge,
}

impl Stack {
    /// Starts the shipped route file with stores and upstream pointed at this test's.
    pub async fn start() -> Stack {
        Self::start_with(|config| config).await
    }

    /// Like [`Stack::start`], letting the test adjust the edge's configuration (for
    /// example to point a store at a closed port).
    pub async fn start_with(adjust: impl FnOnce(EdgeConfig) -> EdgeConfig) -> Stack {
        let database = TestDatabase::create().await;
        let redis = TestRedis::connect().await;
        let queue = redis.unique_queue();
        let upstream = RecordingUpstream::start().await;

        let config = EdgeConfig::new(shipped_routes())
            .env("DATABASE_URL", database.edge_url())
            .env("REDIS_URL", redis.url())
            .env("SWITCHYARD_UPSTREAM", upstream.addr().to_string())
            .env("SWITCHYARD_BOOKINGS_QUEUE", queue.as_str());
        let edge = Edge::start(adjust(config)).await;
        Stack {
            database,
            redis,
            queue,
            upstream,
            edge,
        }
    }
}

/// The text of the repository's `routes.toml`.
pub fn shipped_routes() -> String {
    let path = workspace_root().join("routes.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
