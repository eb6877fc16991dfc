//! Two replicas of `examples/replicas.rs` running its digest (every second, once per point
//! across the replicas) on one PostgreSQL database, operated by hand over the HTTP routes each
//! serves (`LISTEN`): a pause sent to one replica holds on both, and across a restart of the
//! other; a resume sent to the other lets the points run again; a manual run asked of one runs
//! once across both; and the heartbeat singleton, paused from the replica that does not hold
//! it, stops its holder until resumed. Asserted from the ledger (`lifespan_runs`,
//! `lifespan_control`) and the example's heartbeats on the database's clock, and from each
//! replica's status, which also shows the other replica's tasks; each step prints what it
//! measured.
#![cfg(unix)]

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use crate::cluster::{ms, until, Cluster, RETRY, SLACK};
use crate::http::{get, send};

/// The digest's full name, as the routes take it.
const DIGEST: &str = "replicas::digest";
/// The singleton, which one replica at a time runs, writing a heartbeat every 50 ms.
const HEARTBEAT: &str = "replicas::heartbeat";
/// The digest's period, in µs.
const SECOND: i64 = 1_000_000;
/// How long the test watches for runs that should not start: a few periods.
const WATCH: Duration = Duration::from_millis(3500);
/// A claim that decided while the pause was committing (its snapshot taken before the commit,
/// its clock read after `paused_at`) starts a run just after it: at most this late (µs).
const IN_FLIGHT: i64 = 50_000;

/// A run of the digest in the ledger: who ran it, when it started (µs on the database's
/// clock), whether it was run by hand and whether it finished.
#[derive(Debug)]
struct Started {
    instance: String,
    at: i64,
    manual: bool,
    finished: bool,
}

impl Cluster {
    /// The runs of the digest started at or after `from` (µs on the database's clock), in
    /// order.
    async fn started_since(&self, from: i64) -> Vec<Started> {
        sqlx::query(
            "SELECT instance, (extract(epoch FROM started_at) * 1000000)::bigint AS at, manual,
                 finished_at IS NOT NULL
             FROM lifespan_runs
             WHERE task = $1 AND started_at >= to_timestamp($2::float8 / 1000000)
             ORDER BY at",
        )
        .bind(DIGEST)
        .bind(from)
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| Started {
            instance: row.get(0),
            at: row.get(1),
            manual: row.get(2),
            finished: row.get(3),
        })
        .collect()
    }

    /// `task`'s pause as `lifespan_control` holds it: who paused it, since when (µs).
    async fn pause_recorded(&self, task: &str) -> Option<(String, i64)> {
        sqlx::query(
            "SELECT paused_by, (extract(epoch FROM paused_at) * 1000000)::bigint
             FROM lifespan_control WHERE task = $1 AND paused_at IS NOT NULL",
        )
        .bind(task)
        .fetch_optional(&self.db)
        .await
        .unwrap()
        .map(|row| (row.get(0), row.get(1)))
    }

    /// The heartbeats accepted by the fence at or after `from` (µs on the database's clock):
    /// who wrote each and when, in order.
    async fn beats_since(&self, from: i64) -> Vec<(String, i64)> {
        sqlx::query(
            "SELECT instance, (extract(epoch FROM at) * 1000000)::bigint AS at
             FROM replica_beats
             WHERE accepted AND at >= to_timestamp($1::float8 / 1000000) ORDER BY at",
        )
        .bind(from)
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
    }

    /// The address replica `instance` serves its routes on, as it logged it.
    fn address(&mut self, instance: &str) -> String {
        let process = self.process(instance);
        let address = process.seen().iter().find_map(|line| {
            let (_, address) = line.split_once("listening on ")?;
            Some(address.trim().to_owned())
        });
        address.unwrap_or_else(|| panic!("{instance} logged no address: {:?}", process.seen()))
    }

    /// Checks that no run of the digest started since `paused` (µs), the pause's time, but
    /// one of a claim deciding as the pause committed; returns how long the test watched (µs).
    async fn none_since(&self, paused: i64) -> i64 {
        let runs = self.started_since(paused).await;
        let late: Vec<&Started> = runs
            .iter()
            .filter(|run| run.at > paused + IN_FLIGHT)
            .collect();
        assert!(
            late.is_empty() && runs.len() <= 1,
            "runs started during the pause: {runs:?}"
        );
        self.now().await - paused
    }
}

/// `POST /lifespan/tasks/<task>/<action>` to the replica at `address`: the status code and the
/// answer.
fn operate(address: &str, task: &str, action: &str) -> (u16, String) {
    send(
        address,
        "POST",
        &format!("/lifespan/tasks/{task}/{action}"),
        "",
    )
}

/// `task`'s line in the status of the replica at `address`.
fn task_status(address: &str, task: &str) -> Value {
    let status: Value = serde_json::from_str(&get(address, "/lifespan/status")).unwrap();
    let tasks = status["tasks"].as_array().expect("the status lists tasks");
    let line = tasks.iter().find(|line| line["name"] == task);
    line.cloned()
        .unwrap_or_else(|| panic!("no {task} in the status: {status}"))
}

/// Who paused `task`, as the status of the replica at `address` shows it, and since when (ms);
/// `None` if it shows no pause.
fn paused_in_status(address: &str, task: &str) -> Option<(String, i64)> {
    let line = task_status(address, task);
    let paused = line.get("paused").filter(|paused| !paused.is_null())?;
    let by = paused["by"].as_str().expect("who paused").to_owned();
    Some((by, paused["since_unix_ms"].as_i64().expect("since when")))
}

fn duration(micros: i64) -> Duration {
    Duration::from_micros(micros.max(0) as u64)
}

/// Pauses the digest on a: b's status shows a's pause, and no run starts on either replica
/// for a few periods. Returns the pause's time (µs on the database's clock).
async fn pause_on_a(cluster: &mut Cluster) -> i64 {
    let (a, b) = (cluster.address("a"), cluster.address("b"));
    let before = cluster.started_since(0).await;
    let (code, answer) = operate(&a, DIGEST, "pause");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.ends_with("is paused by a"), "{answer}");
    let (by, paused) = cluster
        .pause_recorded(DIGEST)
        .await
        .expect("the pause recorded");
    assert_eq!(by, "a");
    let shown = until("b's status shows the pause", async || {
        paused_in_status(&b, DIGEST)
    })
    .await;
    let heard = cluster.now().await - paused;
    assert_eq!(
        shown,
        ("a".to_owned(), paused / 1000),
        "b shows another pause"
    );
    tokio::time::sleep(WATCH).await;
    let watched = cluster.none_since(paused).await;
    let last = before.last().expect("runs before the pause");
    println!(
        "pause sent to a: recorded by the database, shown by b's status {:.0} ms later; the last digest had started {:.0} ms before the pause (on {}), none started on either replica in the {:.1} s after it",
        ms(heard),
        ms(paused - last.at),
        last.instance,
        ms(watched) / 1000.0
    );
    paused
}

/// Restarts b (SIGTERM, then started again): its status shows a's pause, and still no run
/// starts.
async fn restart_b(cluster: &mut Cluster, paused: i64) {
    cluster.stop("b");
    cluster.spawn("b");
    let up = cluster.now().await;
    let b = cluster.address("b");
    let shown = until("the restarted b's status shows the pause", async || {
        paused_in_status(&b, DIGEST)
    })
    .await;
    let heard = cluster.now().await - up;
    assert_eq!(
        shown,
        ("a".to_owned(), paused / 1000),
        "the restarted b shows another pause"
    );
    tokio::time::sleep(WATCH).await;
    let watched = cluster.none_since(paused).await;
    println!(
        "b restarted (SIGTERM, exit 0, started again): its status showed a's pause {:.0} ms after its startup; still no digest started, {:.1} s into the pause",
        ms(heard),
        ms(watched) / 1000.0
    );
}

/// Resumes the digest on b: a point runs again within a couple of periods, and a's status
/// shows no pause.
async fn resume_on_b(cluster: &mut Cluster) {
    let (a, b) = (cluster.address("a"), cluster.address("b"));
    let asked = cluster.now().await;
    let (code, answer) = operate(&b, DIGEST, "resume");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.ends_with("is resumed"), "{answer}");
    assert_eq!(
        cluster.pause_recorded(DIGEST).await,
        None,
        "the pause is over"
    );
    let first = until("a digest started after the resume", async || {
        cluster.started_since(asked).await.into_iter().next()
    })
    .await;
    until("a's status shows no pause", async || {
        paused_in_status(&a, DIGEST).is_none().then_some(())
    })
    .await;
    let again = first.at - asked;
    println!(
        "resume sent to b: the next digest started {:.0} ms later (on {}), a point of the schedule",
        ms(again),
        first.instance
    );
    assert!(!first.manual, "{first:?}");
    assert!(
        duration(again) <= duration(2 * SECOND) + SLACK,
        "no digest within two periods of the resume: {:.0} ms",
        ms(again)
    );
}

/// Asks a for a manual run of the digest: exactly one runs across both replicas, marked manual
/// in the ledger and in both replicas' status.
async fn trigger_on_a(cluster: &mut Cluster) {
    let (a, b) = (cluster.address("a"), cluster.address("b"));
    let asked = cluster.now().await;
    let (code, answer) = operate(&a, DIGEST, "trigger");
    assert_eq!(code, 202, "{answer}");
    let manual = until("the manual run finished", async || {
        let runs = cluster.started_since(asked).await;
        runs.into_iter().find(|run| run.manual && run.finished)
    })
    .await;
    // Time for a second manual run to show, if there were one.
    tokio::time::sleep(WATCH).await;
    let manuals: Vec<Started> = cluster
        .started_since(0)
        .await
        .into_iter()
        .filter(|run| run.manual)
        .collect();
    assert_eq!(manuals.len(), 1, "{manuals:?}");
    let points = cluster.started_since(asked).await.len() - 1;
    let (on_a, on_b) = (task_status(&a, DIGEST), task_status(&b, DIGEST));
    let counted = |line: &Value| line["manual_runs"].as_u64().unwrap_or(0);
    assert_eq!(
        counted(&on_a) + counted(&on_b),
        1,
        "the manual runs the replicas counted: {on_a} {on_b}"
    );
    for line in [&on_a, &on_b] {
        let runs = line["ledger"]["runs"]
            .as_array()
            .expect("the ledger's runs");
        let marked = runs.iter().filter(|run| run["manual"] == true).count();
        assert_eq!(marked, 1, "the ledger in the status: {line}");
    }
    println!(
        "trigger sent to a: one manual run, on {}, started {:.0} ms later; {:.1} s later still the only manual run in the ledger, shown so in both replicas' status, with {points} points of the schedule run meanwhile",
        manual.instance,
        ms(manual.at - asked),
        ms(cluster.now().await - asked) / 1000.0
    );
}

/// The other replica's line of `task`, as the status of the replica at `address` shows it;
/// `None` while it shows none.
fn other_replica_task(address: &str, other: &str, task: &str) -> Option<Value> {
    let status: Value = serde_json::from_str(&get(address, "/lifespan/status")).unwrap();
    let replicas = status["replicas"]["replicas"].as_array()?;
    let replica = replicas
        .iter()
        .find(|replica| replica["instance"] == other)?;
    assert_eq!(replica["silent"], false, "{status}");
    let tasks = replica["status"]["tasks"].as_array()?;
    tasks.iter().find(|line| line["name"] == task).cloned()
}

/// Each replica's status shows the other's digest, as the other published it, with its runs.
async fn each_shows_the_other(cluster: &mut Cluster) {
    let (a, b) = (cluster.address("a"), cluster.address("b"));
    for (address, other) in [(&a, "b"), (&b, "a")] {
        let line = until("a replica's status shows the other's digest", async || {
            other_replica_task(address, other, DIGEST)
        })
        .await;
        assert_eq!(line["state"], "running", "{line}");
        assert_eq!(line["has_error"], false, "{line}");
        assert!(line.get("last_error").is_none(), "{line}");
    }
    println!("each replica's status shows the other's digest, as published");
}

/// Pause, restart, resume and a manual run, each sent over HTTP to one of two replica
/// processes, hold for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_on_both_replicas_and_across_a_restart_and_a_manual_run_runs_once() {
    let env = [
        ("TASKS", "digest"),
        ("DIGEST_WORK_MS", "100"),
        ("LISTEN", "127.0.0.1:0"),
    ];
    let Some(mut cluster) = Cluster::new(&env).await else {
        return;
    };
    cluster.spawn("a");
    cluster.spawn("b");
    until("two digests run", async || {
        (cluster.started_since(0).await.len() >= 2).then_some(())
    })
    .await;
    each_shows_the_other(&mut cluster).await;
    let paused = pause_on_a(&mut cluster).await;
    restart_b(&mut cluster, paused).await;
    resume_on_b(&mut cluster).await;
    trigger_on_a(&mut cluster).await;
    cluster.finish().await;
}

/// The heartbeat paused from the replica that does not hold it: the holder stops within a
/// renewal, no replica writes while paused, and the resume, sent to the holder, lets one write
/// again within a retry period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singleton_paused_from_another_replica_stops_its_holder_until_resumed() {
    let env = [("TASKS", "heartbeat"), ("LISTEN", "127.0.0.1:0")];
    let Some(mut cluster) = Cluster::new(&env).await else {
        return;
    };
    cluster.spawn("a");
    cluster.spawn("b");
    let (holder, _) = until("a heartbeat written", async || {
        cluster.beats_since(0).await.pop()
    })
    .await;
    let other = if holder == "a" { "b" } else { "a" };
    let (to_holder, to_other) = (cluster.address(&holder), cluster.address(other));
    let (code, answer) = operate(&to_other, HEARTBEAT, "pause");
    assert_eq!(code, 200, "{answer}");
    let (by, paused) = cluster.pause_recorded(HEARTBEAT).await.expect("the pause");
    assert_eq!(by, other);
    let shown = until("the holder's status shows the pause", async || {
        paused_in_status(&to_holder, HEARTBEAT)
    })
    .await;
    assert_eq!(shown, (other.to_owned(), paused / 1000));
    tokio::time::sleep(WATCH).await;
    let during = cluster.beats_since(paused).await;
    let stopped = during.last().map_or(0, |(_, at)| at - paused);
    assert!(
        during.iter().all(|(instance, _)| *instance == holder),
        "another replica wrote during the pause: {during:?}"
    );
    assert!(
        duration(stopped) <= RETRY + SLACK,
        "the holder wrote {:.0} ms into the pause",
        ms(stopped)
    );
    let asked = cluster.now().await;
    let (code, answer) = operate(&to_holder, HEARTBEAT, "resume");
    assert_eq!(code, 200, "{answer}");
    let (writer, again) = until("a heartbeat after the resume", async || {
        cluster.beats_since(asked).await.into_iter().next()
    })
    .await;
    println!(
        "heartbeat held by {holder}, paused from {other}: its last beat {:.0} ms into the pause, none in the {:.1} s after; resumed from {holder}: {writer} wrote again {:.0} ms later",
        ms(stopped),
        ms(asked - paused - stopped) / 1000.0,
        ms(again - asked)
    );
    assert!(
        duration(again - asked) <= RETRY + SLACK,
        "no heartbeat within a retry period of the resume: {:.0} ms",
        ms(again - asked)
    );
    cluster.finish().await;
}
