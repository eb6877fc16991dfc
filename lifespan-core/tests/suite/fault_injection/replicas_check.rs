//! The invariants of the replicas property (`replicas.rs`), checked against the log in its
//! exact order and what the driver saw.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lifespan_test_support::WAIT_LIMIT;
use tokio::time::Instant;

use super::replicas::{Entry, How, Observed, Rec, MAX_ENTRIES};
use super::replicas_case::{Body, ReplicasCase};

/// The log, one entry a line, with its index and its time since `origin`.
pub(crate) fn render(entries: &[Entry], origin: Instant) -> String {
    entries
        .iter()
        .enumerate()
        .map(|(seq, entry)| {
            format!(
                "  {seq:>4}  {:>9.3} s  {:?}\n",
                (entry.at - origin).as_secs_f64(),
                entry.rec
            )
        })
        .collect()
}

/// One body of the singleton, from the log.
#[derive(Debug)]
struct Run {
    replica: usize,
    token: i64,
    body: Body,
    start: usize,
    start_at: Instant,
    end: usize,
    end_at: Instant,
    how: How,
}

/// Checks `case`'s log against the invariants. Returns the situations the case went through.
pub(crate) fn check(
    case: &ReplicasCase,
    entries: &[Entry],
    observed: &Observed,
) -> Result<BTreeSet<&'static str>, String> {
    let mut situations = observed.situations.clone();
    ensure!(
        entries.len() < MAX_ENTRIES,
        "the case logged {MAX_ENTRIES} entries: a runaway"
    );
    let runs = runs(entries)?;
    one_holder(&runs, observed, &mut situations)?;
    lost_leases(case, entries, &runs, observed, &mut situations)?;
    tokens(entries, &mut situations)?;
    // 5. Each point at most once, within its period, after a won claim; and when it must run.
    if let Some((period, _)) = case.digest {
        let (lease, deadline, retry) = (case.lease.0.get(), case.lease.1.get(), case.lease.2.get());
        let (ran, attempts) = points_once(case, entries, &mut situations)?;
        points_run(
            entries,
            observed,
            (period.get(), lease, deadline),
            (&ran, &attempts),
            &mut situations,
        )?;
        taken_over(
            entries,
            observed,
            (period.get(), lease, deadline, retry),
            &attempts,
            &mut situations,
        )?;
    }
    // 6. Nothing is left.
    ensure!(
        observed.alive == 0,
        "{} tokio tasks still alive after every app went down",
        observed.alive
    );
    ensure!(
        observed.holder.is_none(),
        "the coordinator still has {:?} as the holder after every app went down",
        observed.holder
    );
    Ok(situations)
}

/// The runs of the singleton's bodies, each start matched with its end (a replica runs one
/// body at a time): invariant 2, and the first part of 6.
fn runs(entries: &[Entry]) -> Result<Vec<Run>, String> {
    let mut runs: Vec<Run> = Vec::new();
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    for (seq, entry) in entries.iter().enumerate() {
        match &entry.rec {
            Rec::BodyStart {
                replica,
                token,
                body,
                holder,
            } => {
                ensure!(
                    !open.contains_key(replica),
                    "entry {seq}: r{replica} started a body while one still ran"
                );
                // 2. A task without a lease never runs.
                ensure!(
                    holder.as_ref() == Some(&(format!("r{replica}"), *token)),
                    "entry {seq}: r{replica} started a body with token {token} while the coordinator's holder was {holder:?}"
                );
                open.insert(*replica, runs.len());
                runs.push(Run {
                    replica: *replica,
                    token: *token,
                    body: *body,
                    start: seq,
                    start_at: entry.at,
                    end: usize::MAX,
                    end_at: entry.at,
                    how: How::Dropped,
                });
            }
            Rec::BodyEnd {
                replica,
                token,
                how,
            } => {
                let run = open.remove(replica).ok_or_else(|| {
                    format!("entry {seq}: r{replica} ended a body it did not start")
                })?;
                let run = &mut runs[run];
                ensure!(
                    run.token == *token,
                    "entry {seq}: r{replica} ended a body of token {token}, not {}",
                    run.token
                );
                run.end = seq;
                run.end_at = entry.at;
                run.how = *how;
            }
            _ => {}
        }
    }
    // 6. Every body ended.
    if let Some((replica, _)) = open.first_key_value() {
        return Err(format!("r{replica}'s body never ended"));
    }
    Ok(runs)
}

/// Invariant 1: never two holders at once, exactly: in the log's order.
fn one_holder(
    runs: &[Run],
    observed: &Observed,
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    for a in runs {
        for b in runs {
            if a.replica != b.replica && a.start < b.start {
                ensure!(
                    a.end < b.start,
                    "two holders at once: r{} (token {}) started at entry {} ({:?}) before r{}'s body (token {}), started at entry {}, ended at entry {} ({:?}){}",
                    b.replica,
                    b.token,
                    b.start,
                    b.start_at - observed.origin,
                    a.replica,
                    a.token,
                    a.start,
                    a.end,
                    a.end_at - observed.origin,
                    if a.end_at == b.start_at { ": a tie at one instant" } else { "" }
                );
            }
        }
    }
    if runs
        .windows(2)
        .any(|pair| pair[0].replica != pair[1].replica)
    {
        situations.insert("a takeover");
    }
    Ok(())
}

/// Invariant 3: a lost lease stops the task, by the renew deadline (on its signal) and by the
/// expiry.
fn lost_leases(
    case: &ReplicasCase,
    entries: &[Entry],
    runs: &[Run],
    observed: &Observed,
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let settings = case.settings();
    for run in runs {
        let (renewed, refused) = renewals(entries, run);
        let renewed = renewed.ok_or_else(|| {
            format!(
                "r{}'s body of token {} ran with no grant of that term",
                run.replica, run.token
            )
        })?;
        let expiry = renewed + settings.lease();
        // Held until its expiry, not through it: at the expiry another replica may hold it.
        ensure!(
            run.end_at < expiry,
            "r{}'s body of token {} (entries {}..{}) ended or was dropped at {:?}, not before its lease expired at {:?} (renewed last when sent at {:?})",
            run.replica,
            run.token,
            run.start,
            run.end,
            run.end_at - observed.origin,
            expiry - observed.origin,
            renewed - observed.origin
        );
        if run.body == Body::Prompt {
            let deadline = renewed + settings.renew_deadline();
            let by = refused.map_or(deadline, |at| at.min(deadline));
            ensure!(
                run.end_at <= by,
                "r{}'s body of token {} (entries {}..{}) stops on its signal but ran until {:?}: its renew deadline was {:?}{}",
                run.replica,
                run.token,
                run.start,
                run.end,
                run.end_at - observed.origin,
                deadline - observed.origin,
                refused.map_or(String::new(), |at| format!(", the renewal was refused at {:?}", at - observed.origin))
            );
        }
        if run.how == How::Dropped && run.end_at < observed.end {
            situations.insert("a body dropped before the end");
            if run.end_at + Duration::from_millis(1) == expiry {
                situations.insert("a body dropped just before its lease's expiry");
            }
        }
        if refused.is_some() {
            situations.insert("a renewal refused during a body");
        }
    }
    Ok(())
}

/// When the last successful renewal (or the grant) of `run`'s term before its end was sent,
/// and when the first renewal of that term was refused, if one was.
fn renewals(entries: &[Entry], run: &Run) -> (Option<Instant>, Option<Instant>) {
    let mut renewed = None;
    let mut refused = None;
    for entry in &entries[..run.end] {
        match entry.rec {
            Rec::Granted {
                replica,
                token,
                sent,
            }
            | Rec::Renewed {
                replica,
                token,
                sent,
            } if replica == run.replica && token == run.token => {
                renewed = Some(renewed.map_or(sent, |at: Instant| at.max(sent)));
            }
            Rec::Refused { replica, token }
                if replica == run.replica && token == run.token && refused.is_none() =>
            {
                refused = Some(entry.at);
            }
            _ => {}
        }
    }
    (renewed, refused)
}

/// Invariant 4: tokens strictly increase.
fn tokens(entries: &[Entry], situations: &mut BTreeSet<&'static str>) -> Result<(), String> {
    let mut last_grant = 0;
    let mut last_run = 0;
    let mut owner: BTreeMap<i64, usize> = BTreeMap::new();
    for (seq, entry) in entries.iter().enumerate() {
        match entry.rec {
            Rec::Granted { token, replica, .. } => {
                ensure!(
                    token > last_grant,
                    "entry {seq}: r{replica} was granted token {token} after token {last_grant}"
                );
                last_grant = token;
                owner.insert(token, replica);
            }
            Rec::BodyStart { token, replica, .. } => {
                ensure!(
                    token >= last_run,
                    "entry {seq}: r{replica} ran token {token} after token {last_run}"
                );
                last_run = token;
                ensure!(
                    owner.get(&token) == Some(&replica),
                    "entry {seq}: r{replica} ran token {token}, granted to {:?}",
                    owner.get(&token)
                );
            }
            _ => {}
        }
    }
    if last_grant > 2 {
        situations.insert("three terms or more");
    }
    Ok(())
}

/// Per point, what the log says of its attempts: the tokens granted (attempt, token), and the
/// runs (replica, attempt, ended at, whether the coordinator recorded the end).
#[derive(Default)]
struct Attempts {
    tokens: BTreeMap<i64, Vec<(u32, i64)>>,
    ends: Vec<(i64, u32, Instant, usize)>,
    finished: BTreeSet<(i64, u32)>,
    /// Per point, when it was due, when its first attempt was won, and when the coordinator
    /// last recorded the end of one of its attempts: while it was in flight.
    flights: BTreeMap<i64, (Instant, Instant, Option<Instant>)>,
}

impl Attempts {
    /// Whether a run of a point other than the one due at `due` was in flight on the
    /// coordinator at some instant from `from` to `to`: under `overlap = forbid` no point
    /// starts then.
    fn in_flight(&self, due: Instant, from: Instant, to: Instant) -> bool {
        self.flights.values().any(|(other, won, finished)| {
            let own = *other + TOLERANCE >= due && *other <= due + TOLERANCE;
            !own && *won < to && finished.is_none_or(|end| end > from)
        })
    }
}

/// The first part of invariant 5: each attempt of a point after a claim that started it, never
/// before the point is due; a point runs again only as a later attempt (a takeover of a run
/// whose lease expired), with a greater token, and never while an earlier attempt of it still
/// runs. Returns the points that ran (by their due instants), each with its first entry, and
/// their attempts.
fn points_once(
    case: &ReplicasCase,
    entries: &[Entry],
    situations: &mut BTreeSet<&'static str>,
) -> Result<(BTreeMap<Instant, usize>, Attempts), String> {
    // Per replica, the attempt it was granted last and has not run yet.
    let mut won: BTreeMap<usize, (i64, u32, Instant)> = BTreeMap::new();
    // Per point, its last attempt run.
    let mut attempts: BTreeMap<i64, u32> = BTreeMap::new();
    // Per replica, the point and attempt it runs now.
    let mut running: BTreeMap<usize, (i64, u32)> = BTreeMap::new();
    let mut ran: BTreeMap<Instant, usize> = BTreeMap::new();
    let mut seen = Attempts::default();
    let period = case
        .digest
        .map_or(Duration::MAX, |(period, _)| period.get());
    for (seq, entry) in entries.iter().enumerate() {
        match entry.rec {
            Rec::Won {
                replica,
                point,
                attempt,
                token,
                due,
            } => {
                tokens_grow(&mut seen, seq, point, attempt, token)?;
                won.insert(replica, (point, attempt, due));
                seen.flights.entry(point).or_insert((due, entry.at, None));
            }
            Rec::PointRun { replica } => {
                let Some((point, attempt, due)) = won.remove(&replica) else {
                    return Err(format!(
                        "entry {seq}: r{replica} ran a point without a claim that started it"
                    ));
                };
                if let Some(before) = attempts.insert(point, attempt) {
                    ensure!(
                        attempt > before,
                        "entry {seq}: r{replica} ran attempt {attempt} of point {point}, after attempt {before}"
                    );
                    situations.insert("a point taken over");
                }
                if let Some((other, _)) = running.iter().find(|(_, run)| run.0 == point) {
                    return Err(format!(
                        "entry {seq}: r{replica} ran attempt {attempt} of point {point} while r{other} still ran an earlier attempt"
                    ));
                }
                running.insert(replica, (point, attempt));
                ran.entry(due).or_insert(seq);
                ensure!(
                    entry.at >= due,
                    "entry {seq}: r{replica} ran point {point} early, {:?} before it was due",
                    due - entry.at
                );
                if entry.at > due + Duration::from_millis(2) {
                    situations.insert("a point ran late");
                }
                if attempt == 1 && entry.at > due + period {
                    situations.insert("a missed point ran (misfire latest or all)");
                }
            }
            Rec::PointEnd { replica } => {
                if let Some((point, attempt)) = running.remove(&replica) {
                    seen.ends.push((point, attempt, entry.at, seq));
                }
            }
            Rec::Finished { point, attempt } => {
                seen.finished.insert((point, attempt));
                if let Some(flight) = seen.flights.get_mut(&point) {
                    flight.2 = Some(entry.at);
                }
            }
            _ => {}
        }
    }
    if !ran.is_empty() {
        situations.insert("a point ran");
    }
    Ok((ran, seen))
}

/// Invariant 5b: tokens grow per attempt: every grant has a token of its own, and a later
/// attempt of a point a greater token than the earlier ones.
fn tokens_grow(
    seen: &mut Attempts,
    seq: usize,
    point: i64,
    attempt: u32,
    token: i64,
) -> Result<(), String> {
    if let Some(other) = seen
        .tokens
        .iter()
        .find(|(_, granted)| granted.iter().any(|(_, t)| *t == token))
    {
        return Err(format!(
            "entry {seq}: attempt {attempt} of point {point} got token {token}, already granted to point {}",
            other.0
        ));
    }
    let granted = seen.tokens.entry(point).or_default();
    for &(before, earlier) in granted.iter() {
        ensure!(
            (attempt > before) == (token > earlier),
            "entry {seq}: attempt {attempt} of point {point} got token {token}; attempt {before} had token {earlier}"
        );
    }
    granted.push((attempt, token));
    Ok(())
}

/// Invariant 5c: a point whose attempt ended without its end recorded (its replica was cut off
/// from the coordinator, or shut down while it was) is taken over as a later attempt, once its
/// lease has expired, while the coordinator answers claims at once and a replica runs: within a
/// period and a claim's patience (the longer of the period and the renew deadline) after the
/// expiry, and a retry period; the expiry being a lease after the attempt's end, or after the
/// coordinator answers at once again.
fn taken_over(
    entries: &[Entry],
    observed: &Observed,
    (period, lease, deadline, retry): (Duration, Duration, Duration, Duration),
    seen: &Attempts,
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let windows = Windows::of(entries, observed);
    for &(point, attempt, ended, seq) in &seen.ends {
        if seen.finished.contains(&(point, attempt)) {
            continue;
        }
        // Renewed last before its end at the latest: expired a lease after it at the latest,
        // or after the coordinator answers at once again, if it did not then.
        let from = windows.clear_from(ended);
        let by = from + lease + period + period.max(deadline) + retry;
        if by > observed.end || !windows.clear_and_up(from, by) {
            continue;
        }
        situations.insert("an unfinished point that must be taken over");
        let later = seen
            .tokens
            .get(&point)
            .is_some_and(|granted| granted.iter().any(|(a, _)| *a > attempt));
        ensure!(
            later,
            "entry {seq}: attempt {attempt} of point {point} ended at {:?} with no end recorded, and was not taken over by {:?}, though the coordinator answered at once and a replica ran throughout",
            ended - observed.origin,
            by - observed.origin
        );
    }
    Ok(())
}

/// When the coordinator answered claims at once, and when each replica ran.
struct Windows {
    clear: Vec<(Instant, bool)>,
    ups: BTreeMap<usize, Vec<(Instant, Instant)>>,
}

impl Windows {
    fn of(entries: &[Entry], observed: &Observed) -> Windows {
        let mut clear: Vec<(Instant, bool)> = Vec::new();
        let mut ups: BTreeMap<usize, Vec<(Instant, Instant)>> = BTreeMap::new();
        for entry in entries {
            match entry.rec {
                Rec::Claims { clear: on } => clear.push((entry.at, on)),
                Rec::Up(replica) => ups
                    .entry(replica)
                    .or_default()
                    .push((entry.at, observed.end + WAIT_LIMIT)),
                Rec::Stopping(replica) => {
                    if let Some(last) = ups.get_mut(&replica).and_then(|ups| ups.last_mut()) {
                        last.1 = last.1.min(entry.at);
                    }
                }
                _ => {}
            }
        }
        Windows { clear, ups }
    }

    /// The first instant from `at` on when the coordinator answered claims at once (the end of
    /// time if it never did again).
    fn clear_from(&self, at: Instant) -> Instant {
        let clear_then = self
            .clear
            .iter()
            .rev()
            .find(|(change, _)| *change <= at)
            .is_some_and(|(_, on)| *on);
        if clear_then {
            return at;
        }
        self.clear
            .iter()
            .find(|(change, on)| *change > at && *on)
            .map_or(at + WAIT_LIMIT * 1000, |(change, _)| *change)
    }

    /// Whether from `from` to `to` the coordinator answered claims at once and one replica
    /// ran throughout.
    fn clear_and_up(&self, from: Instant, to: Instant) -> bool {
        let before = self.clear.iter().rev().find(|(at, _)| *at <= from);
        before.is_some_and(|(_, on)| *on)
            && self
                .clear
                .iter()
                .all(|(at, on)| *at <= from || *at >= to || *on)
            && self
                .ups
                .values()
                .flatten()
                .any(|(up, down)| *up <= from && *down >= to)
    }
}

/// How far apart two readings of one point's due instant may be: each is taken from the
/// coordinator's wall clock, which follows tokio's paused clock to within a millisecond.
const TOLERANCE: Duration = Duration::from_millis(1);

/// The second part of invariant 5: a point runs when it must, given the points that `ran`.
fn points_run(
    entries: &[Entry],
    observed: &Observed,
    (period, lease, deadline): (Duration, Duration, Duration),
    (ran, attempts): (&BTreeMap<Instant, usize>, &Attempts),
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    // Liveness: from three periods and a claim's patience (the longer of the period and the
    // renew deadline) before the point to its end, the coordinator answered claims at once and
    // some replica ran throughout. The patience: a claim sent just before the coordinator
    // answered at once again may still wait that long for its stalled answer, and the points
    // due meanwhile pass.
    // And a lease: a run whose replica went away unfinished holds the next points off (overlap
    // is forbidden) until its lease expires and another replica takes it over.
    let lookback = period * 3 + period.max(deadline) + lease;
    let windows = Windows::of(entries, observed);
    // The points' grid: from the first point that ran, else any (a window of a period must
    // hold a point's run, wherever the grid lies).
    let phase = ran.keys().next().copied().unwrap_or(observed.origin);
    let phase = phase - period * ((phase - observed.origin).as_nanos() / period.as_nanos()) as u32;
    let mut point = 3;
    loop {
        let begins = phase + period * point as u32;
        let ends = begins + period;
        if ends > observed.end {
            break;
        }
        // A run of an earlier point in flight (one whose replica went away unfinished, taken
        // over once its lease expired) keeps the point from starting: overlap is forbidden.
        let blocked = attempts.in_flight(begins, begins - TOLERANCE, ends);
        if blocked && windows.clear_and_up(begins - lookback, ends) {
            situations.insert("a point kept from running by a run in flight");
        }
        let must = !blocked && windows.clear_and_up(begins - lookback, ends);
        if must {
            situations.insert("a point that must run");
            ensure!(
                    ran.range(begins - TOLERANCE..=begins + TOLERANCE).next().is_some(),
                    "point {point} ({:?} to {:?}) did not run, though the coordinator answered at once from {:?} and a replica ran throughout",
                    begins - observed.origin,
                    ends - observed.origin,
                    begins - lookback - observed.origin
                );
        }
        point += 1;
    }
    Ok(())
}
