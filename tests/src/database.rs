//! A fresh PostgreSQL database per test, migrated and seeded, dropped on Drop.
//!
//! Each `TestDatabase` gets its own `switchyard_t_<hex>` database on the server
//! named by `SWITCHYARD_TEST_DATABASE_URL`, so tests never see each other's rows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
// `Executor::execute` returns a boxed `Send` future; the generic `execute`
// methods on queries do not, which would stop callers from spawning `create`.
use sqlx::{Connection, Executor};
use url::Url;

use crate::{random_hex, workspace_root};

/// Where the admin connection goes when the environment does not say.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The read-only role the migrations create for the edge.
const EDGE_ROLE: &str = "switchyard_edge";

/// Advisory lock key that serialises migration runs across test processes.
///
/// Migrations create a cluster-wide role; two runs creating it at once race
/// even with `IF NOT EXISTS` guards. Advisory locks are scoped to the database
/// they are taken in, and every run takes this one in the admin database.
const MIGRATION_LOCK_KEY: i64 = 0x5357_5943_4841_5244;

/// How long dropping the database may take before the test moves on.
const DROP_TIMEOUT: Duration = Duration::from_secs(15);

/// The admin connection URL: `SWITCHYARD_TEST_DATABASE_URL` or the local default.
pub fn admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

/// A migrated database that exists for as long as this value lives.
pub struct TestDatabase {
    name: String,
    admin_url: String,
    owner_url: String,
    edge_url: String,
    pool: PgPool,
}

impl TestDatabase {
    /// Creates, migrates and seeds a fresh database; panics with the cause on failure.
    pub async fn create() -> Self {
        let admin_url = admin_url();
        let name = format!("switchyard_t_{}", random_hex(8));
        let mut admin = connect(&admin_url).await;
        create_database(&mut admin, &name).await;

        let owner_url = with_database(&admin_url, &name);
        let edge_url = with_user(&owner_url, EDGE_ROLE);
        let db = TestDatabase {
            pool: lazy_pool(&owner_url),
            name,
            admin_url,
            owner_url,
            edge_url,
        };
        // From here on `db`'s Drop removes the database if migrating panics.
        db.migrate(&mut admin).await;
        let _ = admin.close().await;
        db
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// URL as the owning superuser, for test setup and assertions.
    pub fn owner_url(&self) -> &str {
        &self.owner_url
    }

    /// URL as the edge's read-only role, for the binary under test.
    pub fn edge_url(&self) -> &str {
        &self.edge_url
    }

    /// A pool of owner connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the workspace's migrations, one run at a time across processes.
    async fn migrate(&self, admin: &mut PgConnection) {
        let files = migration_files(&workspace_root().join("migrations"));
        let lock = sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY);
        admin.execute(lock).await.expect("take the migration lock");
        let mut owner = connect(&self.owner_url).await;
        for file in &files {
            apply_file(&mut owner, file).await;
        }
        let _ = owner.close().await;
        let unlock = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY);
        admin
            .execute(unlock)
            .await
            .expect("release the migration lock");
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be busy or single-threaded,
        // so the drop runs on a thread of its own with its own small runtime.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let worker = std::thread::spawn(move || drop_database_blocking(&admin_url, &name));
        let _ = worker.join();
    }
}

/// Opens one connection, panicking with the URL's target on failure.
async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect to PostgreSQL at {}: {err}", redact(url)))
}

/// A pool that opens connections only when first used.
fn lazy_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy(url)
        .expect("a valid owner URL")
}

/// Runs `CREATE DATABASE`, retrying a few times on transient template contention.
async fn create_database(admin: &mut PgConnection, name: &str) {
    let statement = format!("CREATE DATABASE \"{name}\"");
    let mut attempts = 0;
    loop {
        attempts += 1;
        match admin.execute(statement.as_str()).await {
            Ok(_) => return,
            // Another session briefly touching template1 makes CREATE DATABASE fail.
            Err(err) if attempts < 5 && err.to_string().contains("being accessed") => {
                tokio::time::sleep(Duration::from_millis(100 * attempts)).await;
            }
            Err(err) => panic!("create database {name}: {err}"),
        }
    }
}

/// Every `*.sql` file in `dir`: numbered files in name order, then `seed.sql`.
fn migration_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort_by_key(|path| {
        let file_name = path.file_name().unwrap_or_default().to_os_string();
        (file_name == "seed.sql", file_name)
    });
    files
}

/// Sends one file's whole text as a single simple multi-statement query.
async fn apply_file(conn: &mut PgConnection, file: &Path) {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|err| panic!("read migration {}: {err}", file.display()));
    conn.execute(text.as_str())
        .await
        .unwrap_or_else(|err| panic!("apply migration {}: {err}", file.display()));
}

/// Drops `name` with its own runtime; errors are ignored because Drop must not panic.
fn drop_database_blocking(admin_url: &str, name: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    runtime.block_on(async {
        let work = async {
            let mut admin = PgConnection::connect(admin_url).await?;
            admin.execute(statement.as_str()).await?;
            admin.close().await
        };
        let _ = tokio::time::timeout(DROP_TIMEOUT, work).await;
    });
}

/// `url` pointing at database `name`, keeping user, host and query parameters.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = Url::parse(url).unwrap_or_else(|err| panic!("bad database URL: {err}"));
    parsed.set_path(&format!("/{name}"));
    parsed.into()
}

/// `url` logging in as `user`, without the admin's password.
fn with_user(url: &str, user: &str) -> String {
    let mut parsed = Url::parse(url).unwrap_or_else(|err| panic!("bad database URL: {err}"));
    parsed
        .set_username(user)
        .and_then(|()| parsed.set_password(None))
        .expect("a postgres:// URL accepts a user name");
    parsed.into()
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.into()
        }
        Err(_) => "<unparsable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_swap_database_and_user() {
        let admin = "postgres://postgres:secret@127.0.0.1:5432/postgres?sslmode=disable";
        let owner = with_database(admin, "switchyard_t_ab");
        assert_eq!(
            owner,
            "postgres://postgres:secret@127.0.0.1:5432/switchyard_t_ab?sslmode=disable"
        );
        assert_eq!(
            with_user(&owner, EDGE_ROLE),
            "postgres://switchyard_edge@127.0.0.1:5432/switchyard_t_ab?sslmode=disable"
        );
    }

    #[test]
    fn seed_runs_after_numbered_migrations() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["seed.sql", "0002_b.sql", "0001_a.sql", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = migration_files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0001_a.sql", "0002_b.sql", "seed.sql"]);
    }
}
