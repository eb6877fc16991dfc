//! Three replicas of `examples/replicas.rs` against one PostgreSQL database, killed in every way
//! a replica dies: each scenario is asserted from what the replicas wrote to the database, and
//! prints the failover it measured. The replicas run the heartbeat (a singleton) and the tick
//! (once per point); `ledger_replicas.rs` watches the once-per-point runs in depth.
#![cfg(unix)]

use std::time::Duration;

use sqlx::Row;

use crate::cluster::{ms, until, Cluster, LEASE, RETRY, SLACK};

/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(50);

/// Starts replicas `a`, `b` and `c` running the heartbeat and the tick, `a` first, and waits
/// until it holds the lease; `None` if there is no database to test against.
async fn start() -> Option<Cluster> {
    let mut cluster = Cluster::new(&[("TASKS", "heartbeat,tick")]).await?;
    cluster.spawn("a");
    until("a holding the lease", async || {
        cluster.holder().await.filter(|(holder, _)| holder == "a")
    })
    .await;
    cluster.spawn("b");
    cluster.spawn("c");
    Some(cluster)
}

impl Cluster {
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

    /// Waits until a replica writes an accepted heartbeat with a token above `token`; returns
    /// it.
    async fn takeover(&self, token: i64) -> (String, i64, i64) {
        until("a replica taking over", async || {
            self.first_beat_after(token).await
        })
        .await
    }

    /// Shuts every replica down with SIGTERM and checks the invariants of the whole run:
    /// one writer at a time, tokens never going back, each point run at most once.
    async fn check_and_finish(mut self) {
        self.stop_all();
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
        let (points, taken_over, missed) = self.points().await;
        println!(
            "once per point: {points} points run, none more often than attempted ({taken_over} taken over), {missed} missed"
        );
        self.finish().await;
    }

    /// The points of the tick, from the ledger (a row per point started, with its last
    /// attempt): how many were started, how many of them were taken over, and how many between
    /// the first and the last were not started (missed). Panics if a point's tick was written
    /// more often than the point was attempted.
    async fn points(&self) -> (usize, i64, i64) {
        // The tick's points are its time in µs over its period of 200 ms.
        let twice: Vec<(i64, i64, i32)> = sqlx::query(
            "SELECT t.point, count(*), coalesce(max(r.attempt), 0) FROM replica_ticks t
             LEFT JOIN lifespan_runs r ON r.task = 'replicas::tick' AND r.point = t.point * 200000
             GROUP BY t.point HAVING count(*) > coalesce(max(r.attempt), 0)",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
        assert!(
            twice.is_empty(),
            "points run more often than attempted (point, runs, attempts): {twice:?}"
        );
        let (count, taken_over, first, last): (i64, i64, Option<i64>, Option<i64>) = sqlx::query(
            "SELECT count(*), count(*) FILTER (WHERE attempt > 1), min(point), max(point)
                 FROM lifespan_runs WHERE task = 'replicas::tick'",
        )
        .fetch_one(&self.db)
        .await
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .unwrap();
        let missed = match (first, last) {
            (Some(first), Some(last)) => (last - first) / 200_000 + 1 - count,
            _ => 0,
        };
        (count as usize, taken_over, missed)
    }
}

macro_rules! cluster {
    () => {
        match start().await {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_has_one_writer_and_a_sigterm_hands_over_within_a_retry_period() {
    let mut cluster = cluster!();
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
    cluster.check_and_finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_holder_is_replaced_within_lease_and_retry() {
    let mut cluster = cluster!();
    let (_, token) = cluster.holder().await.expect("a holder");
    let killed = cluster.now().await;
    cluster.kill("a");
    let (instance, new_token, at) = cluster.takeover(token).await;
    let failover = Duration::from_micros((at - killed).max(0) as u64);
    println!("SIGKILL of the holder: {instance} took over (token {new_token}) after {failover:?}");
    assert!(
        failover <= LEASE + RETRY + BEAT + SLACK,
        "failover after SIGKILL took {failover:?}, more than lease + retry"
    );
    cluster.check_and_finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_wakes_up_fenced_out_and_stops() {
    let mut cluster = cluster!();
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
    cluster.check_and_finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_connection_is_killed_stops_before_its_lease_expires() {
    let mut cluster = cluster!();
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
    cluster.check_and_finish().await;
}
