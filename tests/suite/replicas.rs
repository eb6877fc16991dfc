//! Three replicas of `examples/replicas.rs` against one PostgreSQL database, killed in every way
//! a replica dies: each scenario is asserted from what the replicas wrote to the database, and
//! prints the failover it measured. The database is a throwaway cluster started by the test
//! support (or `LIFESPAN_TEST_DATABASE_URL`); without either the tests say they were skipped.
#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use lifespan_examples::{example, test_database, unique_name, Process};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

/// The lease settings of the replicas: short, so that the scenarios take seconds.
const LEASE: Duration = Duration::from_millis(1500);
const RENEW_DEADLINE: Duration = Duration::from_millis(1000);
const RETRY: Duration = Duration::from_millis(250);
/// Scheduling slack on a loaded machine, added to every bound measured in real time.
const SLACK: Duration = Duration::from_millis(500);
/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(50);
/// The longest any wait of these tests lasts.
const LIMIT: Duration = Duration::from_secs(60);

/// Every claim of a point of the tick, recorded by a trigger on the coordinator's table (the
/// same table `lifespan-postgres` creates, created here first so that the trigger is in place
/// before any claim).
const CLAIMS: &str = "
    CREATE TABLE lifespan_points (
        task text PRIMARY KEY,
        last_point bigint NOT NULL,
        held_until timestamptz NOT NULL,
        claimed_by text NOT NULL,
        claimed_at timestamptz NOT NULL
    );
    CREATE TABLE replica_claims (point bigint NOT NULL, instance text NOT NULL);
    CREATE FUNCTION record_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- The point's number: its time in µs over the tick's period of 200 ms.
        INSERT INTO replica_claims VALUES (NEW.last_point / 200000, NEW.claimed_by);
        RETURN NEW;
    END $$;
    CREATE TRIGGER record_claim AFTER INSERT OR UPDATE ON lifespan_points
        FOR EACH ROW WHEN (NEW.task = 'replicas::tick') EXECUTE FUNCTION record_claim();
";

/// The scenarios share the example's table names: one at a time, each in a schema of its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A scenario's database: a schema of its own, and the replicas started on it.
struct Cluster {
    url: String,
    db: PgPool,
    replicas: Vec<(String, Option<Process>)>,
}

impl Cluster {
    /// Starts replicas `a`, `b` and `c`, `a` first, and waits until it holds the lease.
    async fn start() -> Option<Cluster> {
        let database = test_database()?;
        let schema = unique_name("replicas").replace('-', "_");
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
        sqlx::raw_sql(CLAIMS).execute(&db).await.unwrap();
        let mut cluster = Cluster {
            url,
            db,
            replicas: Vec::new(),
        };
        for instance in ["a", "b", "c"] {
            cluster.spawn(instance);
            if instance == "a" {
                let deadline = Instant::now() + LIMIT;
                while cluster
                    .holder()
                    .await
                    .is_none_or(|(holder, _)| holder != "a")
                {
                    assert!(
                        Instant::now() < deadline,
                        "a did not get the lease within {LIMIT:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Some(cluster)
    }

    fn spawn(&mut self, instance: &str) {
        let mut command = Command::new(example("replicas"));
        command
            .env("DATABASE_URL", &self.url)
            .env("INSTANCE", instance)
            .env("LEASE_MS", LEASE.as_millis().to_string())
            .env("RENEW_DEADLINE_MS", RENEW_DEADLINE.as_millis().to_string())
            .env("RETRY_MS", RETRY.as_millis().to_string())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut process = Process::spawn(command);
        process.expect("lifespan startup complete");
        self.replicas.retain(|(name, _)| name != instance);
        self.replicas.push((instance.to_string(), Some(process)));
    }

    fn process(&mut self, instance: &str) -> &mut Process {
        self.replicas
            .iter_mut()
            .find(|(name, _)| name == instance)
            .and_then(|(_, process)| process.as_mut())
            .unwrap_or_else(|| panic!("no replica {instance}"))
    }

    /// The instance holding the heartbeat's lease and its token, if the lease is current.
    async fn holder(&self) -> Option<(String, i64)> {
        sqlx::query(
            "SELECT holder, token FROM lifespan_leases WHERE task = 'replicas::heartbeat' AND expires_at > now()",
        )
        .fetch_optional(&self.db)
        .await
        .unwrap()
        .map(|row| (row.get(0), row.get(1)))
    }

    /// The heartbeats written so far, in order: (instance, token, accepted, at in µs).
    async fn beats(&self) -> Vec<(String, i64, bool, i64)> {
        sqlx::query(
            "SELECT instance, token, accepted, (extract(epoch FROM at) * 1000000)::bigint
             FROM replica_beats ORDER BY at",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
    }

    /// The first accepted heartbeat of a token greater than `token`: (instance, token, at µs).
    async fn first_beat_after(&self, token: i64) -> Option<(String, i64, i64)> {
        self.beats()
            .await
            .into_iter()
            .find(|(_, t, accepted, _)| *t > token && *accepted)
            .map(|(instance, token, _, at)| (instance, token, at))
    }

    /// The database's clock, in µs since the epoch.
    async fn now(&self) -> i64 {
        sqlx::query("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            .fetch_one(&self.db)
            .await
            .unwrap()
            .get(0)
    }

    /// Waits until a replica other than `old` writes an accepted heartbeat with a token above
    /// `token`; returns it.
    async fn takeover(&self, token: i64) -> (String, i64, i64) {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(beat) = self.first_beat_after(token).await {
                return beat;
            }
            assert!(
                Instant::now() < deadline,
                "no replica took over within {LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Shuts every replica down with SIGTERM and checks the invariants of the whole run:
    /// one writer at a time, tokens never going back, each point run at most once.
    async fn finish(mut self) {
        for (_, process) in &mut self.replicas {
            if let Some(process) = process.take() {
                process.signal("TERM");
                let (status, output) = process.finish();
                assert!(status.success(), "{}", output.join("\n"));
            }
        }
        let beats = self.beats().await;
        let accepted: Vec<_> = beats.iter().filter(|beat| beat.2).collect();
        for pair in accepted.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            assert!(
                after.1 >= before.1,
                "a token went back: {before:?} then {after:?}"
            );
            if after.0 != before.0 {
                assert!(
                    after.1 > before.1,
                    "two writers in one term: {before:?} then {after:?}"
                );
            }
        }
        let points = self.points().await;
        println!(
            "once per point: {} points claimed, each once, {} missed",
            points.0, points.1
        );
        self.db.close().await;
    }

    /// The points of the tick: how many were claimed, and how many between the first and the
    /// last were not (missed); panics if a point was claimed twice, or a replica ran the tick
    /// more often than it claimed a point. The coordinator's table keeps only the last point:
    /// a trigger set up before the replicas start records every claim.
    async fn points(&self) -> (usize, i64) {
        let twice: Vec<(i64, String)> = sqlx::query(
            "SELECT point, string_agg(instance, ',') FROM replica_claims
             GROUP BY point HAVING count(*) > 1",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        assert!(twice.is_empty(), "points claimed twice: {twice:?}");
        let runs: Vec<(String, i64, i64)> = sqlx::query(
            "SELECT c.instance, c.claims, coalesce(t.runs, 0)
             FROM (SELECT instance, count(*) AS claims FROM replica_claims GROUP BY instance) c
             LEFT JOIN (SELECT instance, count(*) AS runs FROM replica_ticks GROUP BY instance) t
             ON t.instance = c.instance",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
        for (instance, claims, ran) in &runs {
            // A replica killed, or stopped, between a claim and its run runs one less.
            assert!(
                ran <= claims,
                "{instance} ran the tick {ran} times for {claims} points"
            );
        }
        let (count, first, last): (i64, Option<i64>, Option<i64>) =
            sqlx::query("SELECT count(*), min(point), max(point) FROM replica_claims")
                .fetch_one(&self.db)
                .await
                .map(|row| (row.get(0), row.get(1), row.get(2)))
                .unwrap();
        let missed = match (first, last) {
            (Some(first), Some(last)) => last - first + 1 - count,
            _ => 0,
        };
        (count as usize, missed)
    }
}

macro_rules! cluster {
    () => {{
        let _one = ONE_AT_A_TIME.lock().await;
        match tokio::time::timeout(LIMIT, Cluster::start())
            .await
            .expect("starting the replicas")
        {
            Some(cluster) => (cluster, _one),
            None => return,
        }
    }};
}

fn ms(micros: i64) -> f64 {
    micros as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_has_one_writer_and_a_sigterm_hands_over_within_a_retry_period() {
    let (mut cluster, _one) = cluster!();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (holder, token) = cluster.holder().await.expect("a holder");
    assert_eq!(
        holder, "a",
        "the first replica keeps the lease in steady state"
    );
    let last_old = cluster.now().await;
    cluster.process("a").signal("TERM");
    let (instance, new_token, at) = cluster.takeover(token).await;
    let handover = Duration::from_micros((at - last_old).max(0) as u64);
    println!("SIGTERM of the holder: {instance} took over (token {new_token}) after {handover:?}");
    assert!(
        handover <= RETRY + BEAT + SLACK,
        "handover after SIGTERM took {handover:?}, more than one retry period ({RETRY:?})"
    );
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_holder_is_replaced_within_lease_and_retry() {
    let (mut cluster, _one) = cluster!();
    let (_, token) = cluster.holder().await.expect("a holder");
    let killed = cluster.now().await;
    cluster.process("a").signal("KILL");
    let (instance, new_token, at) = cluster.takeover(token).await;
    let failover = Duration::from_micros((at - killed).max(0) as u64);
    println!("SIGKILL of the holder: {instance} took over (token {new_token}) after {failover:?}");
    assert!(
        failover <= LEASE + RETRY + BEAT + SLACK,
        "failover after SIGKILL took {failover:?}, more than lease + retry"
    );
    cluster.replicas.retain(|(name, _)| name != "a");
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_wakes_up_fenced_out_and_stops() {
    let (mut cluster, _one) = cluster!();
    // The holder spends most of each heartbeat preparing its batch, so a pause often leaves a
    // write in flight. Whether it goes out is a race on waking up: the replica drops the body
    // as soon as it sees its lease expired, and the body may run first. Any that goes out must
    // be rejected.
    let mut stale = Vec::new();
    for _round in 0..2 {
        let (holder, token) = cluster.holder().await.expect("a holder");
        let paused = cluster.now().await;
        cluster.process(&holder).signal("STOP");
        let (instance, new_token, at) = cluster.takeover(token).await;
        println!(
            "SIGSTOP of the holder {holder}: {instance} took over (token {new_token}) after {:.0} ms",
            ms(at - paused)
        );
        // Paused past its lease and then some, while the new holder writes.
        tokio::time::sleep(LEASE).await;
        cluster.process(&holder).signal("CONT");
        cluster.process(&holder).expect("lost its lease");
        tokio::time::sleep(RETRY * 2).await;
        let beats = cluster.beats().await;
        let late: Vec<_> = beats
            .iter()
            .filter(|beat| beat.0 == holder && beat.1 == token && beat.3 > at)
            .collect();
        assert!(
            late.iter().all(|beat| !beat.2),
            "a stale write was accepted: {late:?}"
        );
        println!(
            "SIGCONT: {} late writes of the stale holder, all rejected",
            late.len()
        );
        assert_eq!(
            cluster.holder().await.map(|h| h.1),
            Some(new_token),
            "the new holder keeps it"
        );
        stale.push((holder, token));
    }
    // Each stale holder's write, sent now with its old token through the example's statement:
    // the fence refuses it.
    for (holder, token) in stale {
        let accepted: bool = sqlx::query_scalar(
            "WITH fence AS (
                 UPDATE replica_fence SET token = $1 WHERE name = 'heartbeat' AND token <= $1
                 RETURNING token)
             INSERT INTO replica_beats (instance, token, accepted)
             SELECT $2, $1, EXISTS (SELECT 1 FROM fence) RETURNING accepted",
        )
        .bind(token)
        .bind(&holder)
        .fetch_one(&cluster.db)
        .await
        .unwrap();
        assert!(
            !accepted,
            "the fence let the stale token {token} of {holder} through"
        );
    }
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_connection_is_killed_stops_before_its_lease_expires() {
    let (mut cluster, _one) = cluster!();
    tokio::time::sleep(RETRY * 2).await;
    let (_, token) = cluster.holder().await.expect("a holder");
    let killed = cluster.now().await;
    let terminated: i64 = sqlx::query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'lifespan a'",
    )
    .fetch_one(&cluster.db)
    .await
    .unwrap()
    .get(0);
    // Its lease connection, and its claims connection once its once-per-point task claimed.
    assert!(
        (1..=2).contains(&terminated),
        "the holder's coordinator connections: {terminated} terminated"
    );
    cluster.process("a").expect("lost its lease");
    let (instance, new_token, at) = cluster.takeover(token).await;
    let beats = cluster.beats().await;
    let last_old = beats
        .iter()
        .filter(|beat| beat.1 == token && beat.2)
        .map(|beat| beat.3)
        .max()
        .unwrap();
    let stopped = Duration::from_micros((last_old - killed).max(0) as u64);
    println!(
        "connection of the holder killed: it stopped writing after {stopped:?}; {instance} took over (token {new_token}) after {:.0} ms",
        ms(at - killed)
    );
    assert!(
        stopped < LEASE,
        "the holder wrote {stopped:?} after losing its connection, past its lease"
    );
    cluster.finish().await;
}
