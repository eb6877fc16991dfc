//! Replica processes of `examples/replicas.rs` on one PostgreSQL database, for the process tests
//! of replicas (`replicas.rs`: leases; `ledger_replicas.rs`: once-per-point runs;
//! `control_replicas.rs`: pauses, resumes and manual runs over HTTP). Each scenario
//! gets a schema of its own and holds the lock that runs the scenarios one at a time until its
//! replicas are gone. The database is a throwaway cluster started by the test support (or
//! `LIFESPAN_TEST_DATABASE_URL`); without either, a scenario says it was skipped.
#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_examples::{example, test_database, unique_name, Process};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

/// The lease settings of the replicas: short, so that the scenarios take seconds.
pub(crate) const LEASE: Duration = Duration::from_millis(1500);
pub(crate) const RENEW_DEADLINE: Duration = Duration::from_millis(1000);
pub(crate) const RETRY: Duration = Duration::from_millis(250);
/// Scheduling slack on a loaded machine, added to every bound measured in real time.
pub(crate) const SLACK: Duration = Duration::from_millis(500);
/// The longest any wait of these tests lasts.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);
/// Between two looks at the database while waiting.
const POLL: Duration = Duration::from_millis(20);

/// The scenarios share the example's table names, and time real processes: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A scenario's database: a schema of its own, and the replicas started on it.
pub(crate) struct Cluster {
    /// The running replicas, by instance name. Dropped (killed) before the lock.
    replicas: Vec<(String, Process)>,
    url: String,
    /// A pool on the scenario's schema, for the test's own statements.
    pub(crate) db: PgPool,
    /// The environment every replica gets, beside the database and the lease settings.
    env: Vec<(String, String)>,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    /// Takes the scenarios' lock and makes a schema for this one, whose replicas get `env`;
    /// `None` (the test returns) if there is no database to test against.
    pub(crate) async fn new(env: &[(&str, &str)]) -> Option<Cluster> {
        let one = ONE_AT_A_TIME.lock().await;
        let database = test_database()?;
        let schema = unique_name("replicas").replace('-', "_");
        let connecting = async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(database.url())
                .await
                .unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let url = database.url_with("options", &format!("-c%20search_path%3D{schema}"));
            let db = PgPoolOptions::new()
                .max_connections(2)
                .connect(&url)
                .await
                .unwrap();
            (url, db)
        };
        let (url, db) = tokio::time::timeout(LIMIT, connecting)
            .await
            .expect("the test database did not answer");
        let env = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Some(Cluster {
            replicas: Vec::new(),
            url,
            db,
            env,
            _one_at_a_time: one,
        })
    }

    /// Starts replica `instance` and waits for its startup to complete.
    pub(crate) fn spawn(&mut self, instance: &str) -> &mut Process {
        self.spawn_with(instance, &[])
    }

    /// Starts replica `instance` with `env` added to the scenario's, and waits for its startup
    /// to complete.
    pub(crate) fn spawn_with(&mut self, instance: &str, env: &[(&str, &str)]) -> &mut Process {
        let mut command = Command::new(example("replicas"));
        command
            .env("DATABASE_URL", &self.url)
            .env("INSTANCE", instance)
            .env("LEASE_MS", LEASE.as_millis().to_string())
            .env("RENEW_DEADLINE_MS", RENEW_DEADLINE.as_millis().to_string())
            .env("RETRY_MS", RETRY.as_millis().to_string())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .envs(env.iter().copied());
        let mut process = Process::spawn(command);
        process.expect("lifespan startup complete");
        self.replicas.retain(|(name, _)| name != instance);
        self.replicas.push((instance.to_string(), process));
        self.process(instance)
    }

    /// The running replica `instance`.
    pub(crate) fn process(&mut self, instance: &str) -> &mut Process {
        self.replicas
            .iter_mut()
            .find(|(name, _)| name == instance)
            .map(|(_, process)| process)
            .unwrap_or_else(|| panic!("no replica {instance}"))
    }

    /// Kills replica `instance` with SIGKILL and forgets it.
    pub(crate) fn kill(&mut self, instance: &str) {
        self.process(instance).signal("KILL");
        self.replicas.retain(|(name, _)| name != instance);
    }

    /// Shuts replica `instance` down with SIGTERM, checks that it exits with success, and
    /// returns its output.
    pub(crate) fn stop(&mut self, instance: &str) -> Vec<String> {
        self.process(instance).signal("TERM");
        let at = self.replicas.iter().position(|(name, _)| name == instance);
        let (_, process) = self.replicas.remove(at.expect("the replica is running"));
        let (status, output) = process.finish();
        assert!(status.success(), "{instance}: {}", output.join("\n"));
        output
    }

    /// Shuts every replica down with SIGTERM (all at once, so that none takes over what another
    /// drops), checks that each exits with success, and returns their output by instance.
    pub(crate) fn stop_all(&mut self) -> Vec<(String, Vec<String>)> {
        for (_, process) in &self.replicas {
            process.signal("TERM");
        }
        let mut outputs = Vec::new();
        for (instance, process) in self.replicas.drain(..) {
            let (status, output) = process.finish();
            assert!(status.success(), "{instance}: {}", output.join("\n"));
            outputs.push((instance, output));
        }
        outputs
    }

    /// The database's clock, in µs since the epoch.
    pub(crate) async fn now(&self) -> i64 {
        sqlx::query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            .fetch_one(&self.db)
            .await
            .unwrap()
            .get(0)
    }

    /// Stops every replica that is left, then closes the test's pool.
    pub(crate) async fn finish(mut self) {
        self.stop_all();
        self.db.close().await;
    }
}

/// Waits until `check` finds what it looks for, and returns it; panics naming `what` if that
/// takes longer than [`LIMIT`].
pub(crate) async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {LIMIT:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// µs as ms, to print.
pub(crate) fn ms(micros: i64) -> f64 {
    micros as f64 / 1000.0
}
