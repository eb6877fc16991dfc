//! Three replicas of `examples/replicas.rs` running its digests (once-per-point tasks whose runs
//! take a while and write their effect through `claim_effect`) against one PostgreSQL
//! database: runs longer than the period, a claimant killed or paused mid-run, every replica
//! down across points, a replica whose clock is 30 s ahead. Each scenario is asserted from what
//! the database holds (the ledger `lifespan_runs`, the digests written, the writes refused) and
//! prints what it measured, on the database's clock.
#![cfg(unix)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lifespan_core::Point;
use lifespan_postgres::{claim_effect, EffectError};
use sqlx::Row;

use crate::cluster::{ms, until, Cluster, LEASE, RETRY, SLACK};

/// The digests: every second with overlap forbidden and `misfire = latest`; every second with
/// overlap allowed; a cron schedule of every second.
const DIGEST: &str = "replicas::digest";
const OVERLAPPING: &str = "replicas::overlapping_digest";
const CRON: &str = "replicas::cron_digest";
/// Their period, in µs.
const SECOND: i64 = 1_000_000;
/// How long a digest works in the scenarios that stop a run midway: longer than the period.
const LONG_WORK: Duration = Duration::from_millis(2500);
/// The work's length as the example reads it.
const LONG_WORK_MS: &str = "2500";

/// One point's row of the ledger: its last attempt. Times in µs on the database's clock.
#[derive(Clone, Debug)]
struct Run {
    point: i64,
    attempt: i32,
    instance: String,
    token: i64,
    started: i64,
    finished: Option<i64>,
    outcome: Option<String>,
    effect: bool,
}

/// A row of `replica_digests` or `replica_refusals`: the point's number, the attempt, its
/// token, the replica, and for a refusal its reason.
#[derive(Clone, Debug)]
struct Write {
    number: i64,
    attempt: i32,
    token: i64,
    instance: String,
    reason: Option<String>,
}

impl Cluster {
    /// The ledger's rows of `task`, by point.
    async fn runs(&self, task: &str) -> Vec<Run> {
        sqlx::query(
            "SELECT point, attempt, instance, token,
                 (extract(epoch FROM started_at) * 1000000)::bigint,
                 (extract(epoch FROM finished_at) * 1000000)::bigint,
                 outcome, effect_at IS NOT NULL
             FROM lifespan_runs WHERE task = $1 ORDER BY point",
        )
        .bind(task)
        .fetch_all(&self.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| Run {
            point: row.get(0),
            attempt: row.get(1),
            instance: row.get(2),
            token: row.get(3),
            started: row.get(4),
            finished: row.get(5),
            outcome: row.get(6),
            effect: row.get(7),
        })
        .collect()
    }

    /// The digests written of `task` (`refusals`: the writes refused), in order.
    async fn writes(&self, task: &str, refusals: bool) -> Vec<Write> {
        let statement = if refusals {
            "SELECT point, attempt, token, instance, reason FROM replica_refusals
             WHERE task = $1 ORDER BY at"
        } else {
            "SELECT point, attempt, token, instance, NULL::text FROM replica_digests
             WHERE task = $1 ORDER BY at"
        };
        sqlx::query(statement)
            .bind(task)
            .fetch_all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| Write {
                number: row.get(0),
                attempt: row.get(1),
                token: row.get(2),
                instance: row.get(3),
                reason: row.get(4),
            })
            .collect()
    }

    /// A run of `task` in flight since at least `age`, as attempt 1.
    async fn claimant(&self, task: &str, age: Duration) -> Run {
        let age = age.as_micros() as i64;
        until("a run in flight", async || {
            let now = self.now().await;
            self.runs(task)
                .await
                .into_iter()
                .find(|run| run.finished.is_none() && run.attempt == 1 && now - run.started >= age)
        })
        .await
    }

    /// Waits until `task`'s point `point` is run by attempt 2 or later; returns its row.
    async fn taken_over(&self, task: &str, point: i64) -> Run {
        until("the point taken over", async || {
            let runs = self.runs(task).await;
            runs.into_iter()
                .find(|run| run.point == point && run.attempt > 1)
        })
        .await
    }

    /// Waits until `task`'s point `point` has finished; returns its row.
    async fn finished(&self, task: &str, point: i64) -> Run {
        until("the point's run finished", async || {
            let runs = self.runs(task).await;
            runs.into_iter()
                .find(|run| run.point == point && run.finished.is_some())
        })
        .await
    }

    /// Checks that each point of `task` was written at most once, exactly when the ledger has
    /// its effect done, by one of its attempts; and that a succeeded run has its effect.
    /// Returns the number of digests.
    async fn check_effects(&self, task: &str) -> usize {
        let runs = self.runs(task).await;
        let digests = self.writes(task, false).await;
        for run in &runs {
            let written: Vec<_> = digests
                .iter()
                .filter(|digest| digest.number == run.point / SECOND)
                .collect();
            assert!(written.len() <= 1, "written twice: {run:?}: {written:?}");
            assert_eq!(
                written.len() == 1,
                run.effect,
                "the ledger's effect and the digests disagree: {run:?}: {written:?}"
            );
            if let Some(digest) = written.first() {
                assert!(
                    digest.attempt <= run.attempt && digest.token <= run.token,
                    "a digest of no attempt of the point: {run:?}: {digest:?}"
                );
            }
            if run.outcome.as_deref() == Some("succeeded") {
                assert!(run.effect, "a run succeeded without its digest: {run:?}");
            }
        }
        let points: Vec<i64> = runs.iter().map(|run| run.point / SECOND).collect();
        for digest in &digests {
            assert!(
                points.contains(&digest.number),
                "a digest of a point the ledger does not hold: {digest:?}"
            );
        }
        digests.len()
    }
}

/// Three replicas running `tasks`, each digest working `work_ms`; `None` without a database.
async fn three(tasks: &str, work_ms: &str) -> Option<Cluster> {
    let mut cluster = Cluster::new(&[("TASKS", tasks), ("DIGEST_WORK_MS", work_ms)]).await?;
    for instance in ["a", "b", "c"] {
        cluster.spawn(instance);
    }
    Some(cluster)
}

/// `Some` of what `$start` gave, or the test returns: there is no database to test against.
macro_rules! or_skip {
    ($start:expr) => {
        match $start.await {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

fn duration(micros: i64) -> Duration {
    Duration::from_micros(micros.max(0) as u64)
}

/// With runs of 2.5 s every second: under `overlap = forbid` no run of the digest overlaps
/// another, on any replica, and the points due meanwhile are missed (`misfire = latest` runs
/// the latest of them as soon as the run ends); under `overlap = allow` runs overlap, each on a
/// replica of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_longer_than_the_period_never_overlap_unless_allowed() {
    let mut cluster = or_skip!(three("digest,overlapping_digest", LONG_WORK_MS));
    until("three runs of the digest", async || {
        (cluster.runs(DIGEST).await.len() >= 3).then_some(())
    })
    .await;
    // The runs in flight finish during the graceful shutdown.
    let outputs = cluster.stop_all();
    let runs = cluster.runs(DIGEST).await;
    let mut skipped = 0;
    for pair in runs.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let end = before.finished.expect("every run finished");
        assert!(
            end <= after.started,
            "two runs of the digest overlapped: {before:?} then {after:?}"
        );
        let between = (after.point - before.point) / SECOND - 1;
        assert!(
            between >= 1,
            "a 2.5 s run missed no point: {before:?} then {after:?}"
        );
        skipped += between;
    }
    let logged = missed_in_logs(&outputs, DIGEST);
    assert_eq!(
        logged, skipped,
        "the points missed, as the replicas logged them"
    );
    let gaps: Vec<String> = runs
        .windows(2)
        .map(|pair| format!("{:.0}", ms(pair[1].started - pair[0].finished.unwrap())))
        .collect();
    println!(
        "overlap = forbid: {} runs of 2.5 s, none overlapping (gaps between a run's end and the next start: {} ms), {skipped} points skipped, and as many logged as missed",
        runs.len(),
        gaps.join(", "),
    );
    let overlapping = cluster.runs(OVERLAPPING).await;
    let (mut across, mut missed) = (0, 0);
    for (i, one) in overlapping.iter().enumerate() {
        for other in &overlapping[i + 1..] {
            if other.started < one.finished.expect("every run finished") {
                assert_ne!(
                    one.instance, other.instance,
                    "a replica ran two points at once: {one:?} and {other:?}"
                );
                across += 1;
            }
        }
    }
    for pair in overlapping.windows(2) {
        missed += (pair[1].point - pair[0].point) / SECOND - 1;
    }
    assert!(
        across > 0,
        "no runs overlapped under overlap = allow: {overlapping:?}"
    );
    println!(
        "overlap = allow: {} runs, {across} pairs overlapping (each on two replicas), {missed} points missed",
        overlapping.len()
    );
    let written = cluster.check_effects(DIGEST).await + cluster.check_effects(OVERLAPPING).await;
    println!("digests: {written} written, each point once");
    cluster.finish().await;
}

/// The points of `task` missed, as the replicas logged them (`` `replicas::digest` missed 2
/// point(s) of its schedule before this one``) when they started the point after them: their
/// sum over all the replicas' output.
fn missed_in_logs(outputs: &[(String, Vec<String>)], task: &str) -> i64 {
    let task = format!("`{task}`");
    outputs
        .iter()
        .flat_map(|(_, lines)| lines)
        .filter(|line| line.contains(&task))
        .filter_map(|line| line.split_once(" missed ")?.1.split_once(" point(s)"))
        .filter_map(|(count, _)| count.parse::<i64>().ok())
        .sum()
}

/// The claimant of a point is killed midway through its run: another replica runs the point
/// as attempt 2 once the run's lease has expired, and writes its digest, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_whose_claimant_is_killed_is_completed_as_attempt_2() {
    let mut cluster = or_skip!(three("digest", LONG_WORK_MS));
    let first = cluster.claimant(DIGEST, Duration::from_secs(1)).await;
    let killed = cluster.now().await;
    cluster.kill(&first.instance);
    let second = cluster.taken_over(DIGEST, first.point).await;
    let done = cluster.finished(DIGEST, first.point).await;
    let (takeover, completed) = (
        duration(second.started - killed),
        duration(done.finished.unwrap() - killed),
    );
    println!(
        "SIGKILL of {} mid-run: {} took point {} over as attempt {} (token {} after {}) {takeover:?} after the kill, completed it after {completed:?}",
        first.instance,
        second.instance,
        first.point / SECOND,
        second.attempt,
        second.token,
        first.token
    );
    assert_eq!(second.attempt, 2, "{second:?}");
    assert!(
        second.token > first.token && second.instance != first.instance,
        "{first:?} then {second:?}"
    );
    assert!(
        takeover >= LEASE - RETRY,
        "taken over {takeover:?} after the kill: before the run's lease could expire"
    );
    assert!(
        takeover <= LEASE + RETRY + SLACK,
        "taken over {takeover:?} after the kill: more than lease + retry"
    );
    assert_eq!(done.outcome.as_deref(), Some("succeeded"), "{done:?}");
    assert!(
        completed <= LEASE + RETRY + LONG_WORK + SLACK,
        "completed {completed:?} after the kill"
    );
    let digests: Vec<Write> = cluster
        .writes(DIGEST, false)
        .await
        .into_iter()
        .filter(|digest| digest.number == first.point / SECOND)
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(
        (digests[0].attempt, digests[0].token),
        (2, second.token),
        "{digests:?}"
    );
    cluster.check_effects(DIGEST).await;
    cluster.finish().await;
}

/// The stale attempt of `run`, as its replica holds it: for a write sent by the test.
fn stale_point(run: &Run) -> Point {
    let scheduled = SystemTime::UNIX_EPOCH + duration(run.point);
    let (point, _control) = Point::pair(DIGEST, run.point / SECOND, scheduled, 1, run.token);
    point
}

/// `claim_effect` for `point` in a transaction of the test's, rolled back.
async fn claim_as(cluster: &Cluster, point: &Point) -> Result<bool, EffectError> {
    let mut transaction = cluster.db.begin().await.unwrap();
    let claimed = claim_effect(&mut transaction, point).await;
    transaction.rollback().await.unwrap();
    claimed
}

/// The claimant of a point is paused (SIGSTOP) midway through its run, past its lease: another
/// replica runs the point as attempt 2; the paused one, woken up (SIGCONT), loses its run, and
/// no write of its stale attempt gets through `claim_effect`, whenever it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_claimant_wakes_up_to_a_refused_write() {
    let mut cluster = or_skip!(three("digest", LONG_WORK_MS));
    // A second into its 2.5 s of work: paused past the lease, the work is over when it wakes.
    let first = cluster.claimant(DIGEST, Duration::from_secs(1)).await;
    let paused = cluster.now().await;
    cluster.process(&first.instance).signal("STOP");
    let second = cluster.taken_over(DIGEST, first.point).await;
    let takeover = duration(second.started - paused);
    assert!(
        second.token > first.token && second.instance != first.instance,
        "{first:?} then {second:?}"
    );
    assert!(
        (LEASE - RETRY..=LEASE + RETRY + SLACK).contains(&takeover),
        "taken over {takeover:?} after the pause, not within the lease and a retry period"
    );
    // The stale attempt's write while attempt 2 works: refused, its attempt is over.
    let stale = stale_point(&first);
    let refused = claim_as(&cluster, &stale).await;
    assert!(
        matches!(refused, Err(EffectError::StaleRun { .. })),
        "{refused:?}"
    );
    let process = cluster.process(&first.instance);
    process.signal("CONT");
    let lost = process.expect("lost the lease of its point's run");
    let done = cluster.finished(DIGEST, first.point).await;
    // And after attempt 2 committed its digest: refused too (the point's effect is done).
    let late = claim_as(&cluster, &stale).await;
    assert!(matches!(late, Ok(false)), "{late:?}");
    let number = first.point / SECOND;
    let digests: Vec<Write> = cluster
        .writes(DIGEST, false)
        .await
        .into_iter()
        .filter(|digest| digest.number == number)
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(
        (digests[0].attempt, digests[0].token),
        (2, second.token),
        "{digests:?}"
    );
    let refusals: Vec<Write> = cluster
        .writes(DIGEST, true)
        .await
        .into_iter()
        .filter(|refusal| refusal.number == number)
        .collect();
    assert!(
        refusals
            .iter()
            .all(|refusal| refusal.token == first.token && refusal.instance == first.instance),
        "{refusals:?}"
    );
    println!(
        "SIGSTOP of {} mid-run: {} took point {number} over as attempt 2 {takeover:?} after the pause and completed it ({:?}); on SIGCONT the stale replica said \"lost the lease of its point's run{}\"; its own late writes: {} refused ({:?}); the test's write with the stale token: {refused:?} while attempt 2 ran, {late:?} after",
        first.instance,
        second.instance,
        done.outcome,
        lost.split(';').next().unwrap_or_default(),
        refusals.len(),
        refusals.iter().map(|refusal| refusal.reason.clone().unwrap_or_default()).collect::<Vec<_>>()
    );
    cluster.check_effects(DIGEST).await;
    cluster.finish().await;
}

/// Every replica down across three points of the digest, then up: under `misfire = latest`,
/// the latest point due at the restart runs once, late; the two before it never run; then the
/// schedule goes on, each point at its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_every_replica_was_down_the_latest_missed_point_runs_once() {
    let mut cluster = or_skip!(three("digest", "100"));
    until("two digests finished", async || {
        let runs = cluster.runs(DIGEST).await;
        (runs.iter().filter(|run| run.finished.is_some()).count() >= 2).then_some(())
    })
    .await;
    cluster.stop_all();
    let before = cluster.runs(DIGEST).await;
    let last = before.last().expect("a run before the stop").point;
    // Up again just after the third point since the last run: points last+1..last+3 were due
    // while every replica was down.
    let up = last + 3 * SECOND + 50_000;
    tokio::time::sleep(duration(up - cluster.now().await)).await;
    let up = cluster.now().await;
    for instance in ["a", "b", "c"] {
        cluster.spawn(instance);
    }
    let after = until("three points run after the restart", async || {
        let runs: Vec<Run> = cluster
            .runs(DIGEST)
            .await
            .into_iter()
            .filter(|run| run.point > last)
            .collect();
        (runs.iter().filter(|run| run.finished.is_some()).count() >= 3).then_some(runs)
    })
    .await;
    let outputs = cluster.stop_all();
    let first = &after[0];
    let lateness: Vec<String> = after
        .iter()
        .map(|run| format!("{:.0}", ms(run.started - run.point)))
        .collect();
    println!(
        "every replica down across points {}..={}, up {:.0} ms after the last of them: points run after the restart: {:?} (started this many ms after their time: {}); {} logged as missed",
        last / SECOND + 1,
        last / SECOND + 3,
        ms(up - last - 3 * SECOND),
        after.iter().map(|run| run.point / SECOND).collect::<Vec<_>>(),
        lateness.join(", "),
        missed_in_logs(&outputs, DIGEST)
    );
    assert_eq!(
        first.point,
        last + 3 * SECOND,
        "the first run after the restart is not the latest point missed: {after:?}"
    );
    assert!(first.started >= up, "{first:?}");
    for pair in after.windows(2) {
        assert_eq!(
            pair[1].point,
            pair[0].point + SECOND,
            "the schedule did not go on: {after:?}"
        );
    }
    for run in &after[1..] {
        assert!(duration(run.started - run.point) <= SLACK, "late: {run:?}");
    }
    assert!(after.iter().all(|run| run.attempt == 1), "{after:?}");
    assert_eq!(
        missed_in_logs(&outputs, DIGEST),
        2,
        "the points missed, as the replicas logged them"
    );
    cluster.check_effects(DIGEST).await;
    cluster.finish().await;
}

/// libfaketime's preload library, if this machine has it (Debian's `faketime`).
fn libfaketime() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("faketime/libfaketime.so.1"))
        .find(|path| path.is_file())
}

/// This replica's clock against the database's, as it logged at startup, in ms.
fn skew(cluster: &mut Cluster, instance: &str) -> i64 {
    let process = cluster.process(instance);
    let line = process
        .seen()
        .iter()
        .find_map(|line| line.split_once("skew_ms=").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| panic!("{instance} logged no skew: {:?}", process.seen()));
    let digits: String = line
        .chars()
        .take_while(|c| *c == '-' || c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

/// Checks that `runs`, of a schedule of every second, are one per occurrence from the first
/// due after `from` on, each run once, at its time; returns how long after their time they
/// started, at the least and at the most (µs).
fn each_at_its_time(runs: &[Run], from: i64) -> (i64, i64) {
    assert!(runs.len() >= 8, "{runs:?}");
    assert!(runs[0].point < from + 2 * SECOND, "{runs:?}");
    for pair in runs.windows(2) {
        assert_eq!(
            pair[1].point,
            pair[0].point + SECOND,
            "an occurrence skipped: {runs:?}"
        );
    }
    assert!(runs.iter().all(|run| run.attempt == 1), "{runs:?}");
    let lateness = runs.iter().map(|run| run.started - run.point);
    let (early, late) = (lateness.clone().min().unwrap(), lateness.max().unwrap());
    assert!(
        early >= 0 && duration(late) <= SLACK,
        "not at their time: {runs:?}"
    );
    (early, late)
}

/// One replica's system clock is 30 s ahead (libfaketime): under a cron schedule of every
/// second, reckoned on the database's clock, each occurrence runs once, at its time, none
/// skipped, whether the skewed replica runs alone or with the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_its_clock_30s_ahead_runs_each_cron_occurrence_at_its_time() {
    let Some(library) = libfaketime() else {
        let message = "skipped: the clock-skew test needs libfaketime (/usr/lib/*/faketime/libfaketime.so.1); install Debian's `faketime`";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        println!("{message}");
        return;
    };
    let mut cluster = or_skip!(Cluster::new(&[("TASKS", "cron_digest")]));
    let library = library.to_string_lossy().into_owned();
    cluster.spawn_with(
        "a",
        &[
            ("LD_PRELOAD", library.as_str()),
            ("FAKETIME", "+30s"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    let ahead = skew(&mut cluster, "a");
    assert!(
        (28_000..=32_000).contains(&ahead),
        "libfaketime did not set a's clock 30 s ahead: {ahead} ms"
    );
    let alone = cluster.now().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let joined = cluster.now().await;
    cluster.spawn("b");
    cluster.spawn("c");
    let others = (skew(&mut cluster, "b"), skew(&mut cluster, "c"));
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.stop_all();
    let runs = cluster.runs(CRON).await;
    let (early, late) = each_at_its_time(&runs, alone);
    let by_a = runs
        .iter()
        .filter(|run| run.instance == "a" && run.point < joined)
        .count();
    println!(
        "a's clock {ahead} ms ahead (b, c: {others:?} ms): {} occurrences run, none skipped, {} of them by a, {by_a} while a ran alone; started {:.0} to {:.0} ms after their time",
        runs.len(),
        runs.iter().filter(|run| run.instance == "a").count(),
        ms(early),
        ms(late)
    );
    let while_alone = runs.iter().filter(|run| run.point < joined);
    assert!(
        while_alone.clone().all(|run| run.instance == "a") && by_a >= 3,
        "a ran alone, yet not each occurrence due then: {runs:?}"
    );
    cluster.check_effects(CRON).await;
    cluster.finish().await;
}
