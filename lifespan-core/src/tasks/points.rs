//! A once-per-point task's points: reckoned on the coordinator's clock, each started through
//! the coordinator's ledger as a leased run, renewed while it goes on, and recorded when it
//! ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::base::chain;
use crate::base::deadline::after;
use crate::base::lock::lock;
use crate::base::wall_clock::WallClock;
use crate::replicas::{
    point_time, LeaseSettings, Misfire, Point, PointRun, PointTime, RunClaim, RunOutcome,
    RunRequest,
};
#[cfg(feature = "cron")]
use crate::schedules::cron::CronSchedule;
use crate::schedules::options::TaskOptions;
use crate::status::board::Board;
use crate::status::metrics;
use crate::status::requests::TaskCoordinator;
use crate::tasks::keeper::{Keeper, Leased};

/// A margin added to each wake-up, so that a replica never asks for a point just before the
/// coordinator's clock reaches it.
const MARGIN: Duration = Duration::from_millis(1);

/// How many cron occurrences are looked at, at most, to count the missed ones.
#[cfg(feature = "cron")]
const OCCURRENCES_SEARCHED: usize = 10_000;

/// How far back the latest occurrences of a cron schedule are looked for: a year and a day (a
/// yearly schedule's last occurrence, whatever the leap days).
#[cfg(feature = "cron")]
const LOOKBACK: Duration = Duration::from_secs(366 * 86_400);

/// How long a call to the coordinator may take: the period (the shortest gap between two
/// occurrences of a cron schedule), or the app's renew deadline
/// ([`AppBuilder::lease`](crate::AppBuilder::lease), 10 s by default) if that is longer. Not
/// the period alone: a period shorter than the coordinator's answers (5 ms against a database)
/// would cut off every claim, and no point would run. A point started late is still right: the
/// coordinator starts each point once, whenever the answer arrives; the run is just late. Nor
/// longer than that: past the renew deadline, the app takes the coordinator for unreachable, as
/// a singleton's holder does.
fn patience(period: Duration, renew_deadline: Duration) -> Duration {
    period.max(renew_deadline)
}

/// The points of a schedule.
enum Cadence {
    /// The multiples of the period since the Unix epoch, in µs.
    Every(i64),
    #[cfg(feature = "cron")]
    Cron(Box<CronSchedule>),
}

/// What a once-per-point task needs to start its points.
pub(crate) struct Points {
    coordinator: TaskCoordinator,
    request: RunRequest,
    cadence: Cadence,
    misfire: Misfire,
    limit: u32,
    settings: LeaseSettings,
    task: Arc<str>,
    instance: Arc<str>,
    label: String,
    patience: Duration,
    clock: WallClock,
    /// The coordinator's clock minus this process's wall clock, in µs, as last measured.
    offset: i64,
    /// Whether the coordinator failed on the last call, so that an outage is logged once.
    failing: bool,
    /// Whether the next claim is a poll between points (at startup, or while another
    /// replica's run is in flight) rather than at a point's time: a poll starts no point
    /// unless the misfire policy runs missed ones and some point of the task ran before.
    polling: bool,
    /// The last point started of the task, as the coordinator last said.
    previous: Option<PointTime>,
    /// Whether the last claim said a manual run is asked for and not started: the next claim,
    /// after the run it started, polls for it.
    requested: bool,
}

/// A point's run this replica holds: its lease, kept by a keeper task.
pub(crate) struct HeldRun {
    pub(crate) run: PointRun,
    /// Injected into the run's body.
    pub(crate) point: Point,
    /// The signal of the run's body: the app's shutdown, or the run's lease lost.
    pub(crate) shutdown: CancellationToken,
    /// Fires when the run's lease is lost.
    pub(crate) lost: CancellationToken,
    expiry: Arc<Mutex<Instant>>,
    keeper: JoinHandle<()>,
}

impl HeldRun {
    /// When the run's lease expires at the earliest, on this process's clock.
    pub(crate) fn expiry(&self) -> Instant {
        *lock(&self.expiry)
    }
}

impl Drop for HeldRun {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// What a claim gave.
pub(crate) enum Claimed {
    /// A run to start now.
    Run(HeldRun),
    /// Nothing to run now: ask again at this instant.
    Nothing(Instant),
}

impl Points {
    pub(crate) fn new(board: &Board, index: usize, options: &TaskOptions) -> Self {
        let entry = board.plan.task(index);
        let settings = board.coordination.lease;
        let period = options.every.unwrap_or_default();
        let misfire = options.misfire;
        let request = RunRequest::new(
            entry.name.to_string(),
            board.coordination.instance.to_string(),
            0,
            settings.lease(),
        )
        .hold(options.hold)
        .overlap(options.overlap)
        .grace(match misfire {
            Misfire::Skip => None,
            Misfire::Latest | Misfire::All => options.misfire_grace,
        });
        let cadence = cadence(options, period);
        // A cron schedule's claims may take as long as its occurrences are apart.
        let spacing = match &cadence {
            Cadence::Every(_) => period,
            #[cfg(feature = "cron")]
            Cadence::Cron(schedule) => schedule.shortest_gap().unwrap_or_default(),
        };
        Points {
            coordinator: TaskCoordinator::new(board, index),
            request,
            cadence,
            misfire,
            limit: options.misfire_limit,
            settings,
            task: Arc::from(&*entry.name.to_string()),
            instance: board.coordination.instance.clone(),
            label: entry.label().to_string(),
            patience: patience(spacing, settings.renew_deadline()),
            // Anchored once, then moved on by tokio's clock alone: the coordinator's offset is
            // measured against it at every answer, so it need not follow the system's clock,
            // and a reading is never off by a preemption between reading the system's clock
            // and the monotonic one (a reading early by a few milliseconds asked for the point
            // before the one due).
            clock: WallClock::starting_at(SystemTime::now()),
            offset: 0,
            failing: false,
            polling: true,
            previous: None,
            requested: false,
        }
    }

    /// When to claim after a manual run: at the next point, asking for it (not at the time of a
    /// poll planned before the run, which would ask for the points due then); at once, polling,
    /// if another manual run is asked for.
    pub(crate) fn next_point(&mut self) -> Instant {
        self.polling = self.requested;
        if self.requested {
            return Instant::now();
        }
        self.next_wake()
    }

    /// The next claim polls (asks for no point): it may start a manual run asked for.
    pub(crate) fn poll_now(&mut self) {
        self.polling = true;
    }

    /// When to ask first: at once, to take over a run left unfinished and learn the last point
    /// started (the coordinator's clock is measured on the way).
    pub(crate) async fn first(&mut self) -> Instant {
        let sent = self.clock.now();
        match timeout(self.patience, self.coordinator.now()).await {
            Ok(Ok(now)) => {
                self.answered();
                self.measured(sent, now);
            }
            Ok(Err(error)) => return self.unanswered(&chain::text(&error)),
            Err(_) => return self.unanswered(&format!("no answer within {:?}", self.patience)),
        }
        self.polling = true;
        Instant::now()
    }

    /// Asks the coordinator for a run: a point due, or an interrupted run to take over.
    pub(crate) async fn claim(&mut self, board: &Board, index: usize) -> Claimed {
        let estimate = self.coordinator_now();
        let polling = std::mem::replace(&mut self.polling, false);
        let catch_up = self.misfire != Misfire::Skip && self.previous.is_some();
        self.request.points = if polling && !catch_up {
            Vec::new()
        } else {
            self.candidates(estimate)
        };
        // The points before the first a task ever ran are not missed: none is caught up.
        self.request.earliest = self.misfire == Misfire::All && self.previous.is_some();
        self.request.last_known = self.previous;
        self.request.missed = self.missed_counts(&self.request.points);
        let sent = self.clock.now();
        let began = Instant::now();
        let answer = timeout(self.patience, self.coordinator.claim_run(&self.request)).await;
        let claim = match answer {
            Ok(Ok(claim)) => claim,
            Ok(Err(error)) => return Claimed::Nothing(self.unanswered(&chain::text(&error))),
            Err(_) => {
                let why = format!("no answer within {:?}", self.patience);
                return Claimed::Nothing(self.unanswered(&why));
            }
        };
        self.answered();
        self.measured(sent, claim.now);
        self.previous = claim.previous.or(self.previous);
        if let Some(missed) = claim.missed {
            board.set_missed(index, missed);
        }
        board.controls.set_paused(index, claim.paused.clone());
        self.requested = claim.requested;
        let Some(run) = claim.run.clone() else {
            let asked = !self.request.points.is_empty();
            return Claimed::Nothing(self.wake_after_nothing(&claim, asked));
        };
        if Instant::now() >= after(began, self.settings.lease()) {
            // The answer came too late to hold the run: reckoned from the claim's sending, its
            // lease has expired, and another replica may have taken the point over already.
            // (Earlier, past the renew deadline only, the run starts and is stopped at once:
            // its body may go on until the lease's expiry, as a run whose renewal failed.)
            tracing::warn!(
                point = run.point,
                attempt = run.attempt,
                "lifespan task `{}` got the answer to its claim after the run's lease: not starting it; it is taken over",
                self.label
            );
            return Claimed::Nothing(self.poll_soon());
        }
        self.count_missed(&claim, &run);
        Claimed::Run(self.hold(board, index, run, began))
    }

    /// When to ask again after a run of `run`'s point ended: under a misfire policy that runs
    /// missed points, at once if it was an earlier point than the latest due (a missed point
    /// caught up, an interrupted run taken over), so that the others are looked at; else at the
    /// next point (the points due during the run were missed).
    pub(crate) fn after_run(&mut self, run: &PointRun) -> Instant {
        self.previous = Some(self.previous.map_or(run.point, |last| last.max(run.point)));
        if self.requested {
            // A manual run asked for, which this claim's point went before: claimed at once.
            self.polling = true;
            return Instant::now();
        }
        let due = self.latest_due(self.coordinator_now());
        if self.misfire != Misfire::Skip && due.is_some_and(|due| run.point < due) {
            self.polling = true;
            Instant::now()
        } else {
            self.next_wake()
        }
    }

    /// Records that `held` ended with `outcome`, within the time its lease has left (at least
    /// a retry period, at most the renew deadline).
    pub(crate) async fn finish(&self, held: HeldRun, outcome: RunOutcome) {
        held.keeper.abort();
        let left = held.expiry().saturating_duration_since(Instant::now());
        let bound = left
            .min(self.settings.renew_deadline())
            .max(self.settings.retry());
        let finishing = self.coordinator.finish_run(&held.run, outcome);
        let (label, point, attempt) = (&self.label, held.run.point, held.run.attempt);
        match timeout(bound, finishing).await {
            Ok(Ok(true)) => tracing::debug!(point, attempt, %outcome, "recorded the point's run"),
            Ok(Ok(false)) => tracing::warn!(
                point,
                attempt,
                "lifespan task `{label}` finished a point's run that another replica had taken over: its end is not recorded"
            ),
            Ok(Err(error)) => tracing::warn!(
                point,
                error = %chain::text(&error),
                "lifespan task `{label}` could not record the end of a point's run: another replica takes the point over once its lease expires"
            ),
            Err(_) => tracing::warn!(
                point,
                "lifespan task `{label}` could not record the end of a point's run within {bound:?}: another replica takes the point over once its lease expires"
            ),
        }
    }

    /// Holds `run`, granted by a claim sent at `sent`: a keeper renews its lease from now on.
    fn hold(&self, board: &Board, index: usize, run: PointRun, sent: Instant) -> HeldRun {
        let lost = CancellationToken::new();
        let shutdown = board.shutdown.child_token();
        let expiry = Arc::new(Mutex::new(after(sent, self.settings.lease())));
        let point = Point::new(
            self.task.clone(),
            board.plan.task(index).options().point_number(run.point),
            run.point,
            run.attempt,
            run.token,
            self.instance.clone(),
            lost.clone(),
        );
        tracing::debug!(
            point = run.point,
            attempt = run.attempt,
            token = run.token,
            "started a point's run"
        );
        let keeper = Keeper {
            coordinator: self.coordinator.clone(),
            leased: Leased::Run(run.clone()),
            settings: self.settings,
            lost: lost.clone(),
            shutdown: shutdown.clone(),
            expiry: expiry.clone(),
            label: self.label.clone(),
        };
        let keeper = tokio::spawn(keeper.keep(sent).instrument(board.plan.task(index).span()));
        HeldRun {
            run,
            point,
            shutdown,
            lost,
            expiry,
            keeper,
        }
    }

    /// Counts the points between the last one started before and `run`'s, if `run` is a new
    /// point: they were missed.
    fn count_missed(&self, claim: &RunClaim, run: &PointRun) {
        let Some(previous) = claim.previous.filter(|_| run.attempt == 1 && !run.manual) else {
            return;
        };
        let missed = self.between(previous, run.point);
        if missed > 0 {
            metrics::missed_points(&self.label, missed);
            tracing::info!(
                missed,
                "lifespan task `{}` missed {missed} point(s) of its schedule before this one (misfire policy: {:?})",
                self.label,
                self.misfire
            );
        }
    }

    /// For each of `points` (consecutive points of the schedule, earliest first), how many
    /// points lie strictly between the last point started, as this replica knows it, and it:
    /// what the coordinator counts as missed if that point starts next.
    fn missed_counts(&self, points: &[PointTime]) -> Vec<u64> {
        let Some(previous) = self.previous else {
            return Vec::new();
        };
        let mut first_after = None;
        points
            .iter()
            .enumerate()
            .map(|(index, &point)| {
                if point <= previous {
                    return 0;
                }
                // Counted once, for the first point after the last: the ones after it follow.
                let (first, before) =
                    *first_after.get_or_insert_with(|| (index, self.between(previous, point)));
                before + (index - first) as u64
            })
            .collect()
    }

    /// How many points lie strictly between `from` and `to`.
    fn between(&self, from: PointTime, to: PointTime) -> u64 {
        if to <= from {
            return 0;
        }
        match &self.cadence {
            Cadence::Every(period) => {
                let steps = (to - from) / period.max(&1);
                u64::try_from(steps.saturating_sub(1)).unwrap_or(0)
            }
            #[cfg(feature = "cron")]
            Cadence::Cron(schedule) => {
                let mut count = 0u64;
                let mut at = crate::replicas::point_system_time(from);
                for _ in 0..OCCURRENCES_SEARCHED {
                    match schedule.next_after(at) {
                        Some(next) if point_time(next) < to => {
                            count += 1;
                            at = next;
                        }
                        _ => break,
                    }
                }
                count
            }
        }
    }

    /// The points to ask for when the coordinator's clock reads about `now`: the latest due and
    /// the one after it (this replica's reckoning may be late by a round trip); the one before
    /// (or it may be early); under `misfire = all`, the latest due and the limit less one
    /// before it.
    fn candidates(&self, now: PointTime) -> Vec<PointTime> {
        let before = match self.misfire {
            Misfire::All => (self.limit as usize).saturating_sub(1),
            Misfire::Skip | Misfire::Latest => 1,
        };
        match &self.cadence {
            Cadence::Every(period) => {
                let latest = now.div_euclid(*period.max(&1)) * period;
                let first = latest.saturating_sub(period.saturating_mul(before as i64));
                (0..=before as i64 + 1)
                    .map(|step| first.saturating_add(step.saturating_mul(*period)))
                    .collect()
            }
            #[cfg(feature = "cron")]
            Cadence::Cron(schedule) => cron_candidates(schedule, now, before),
        }
    }

    /// The latest point due when the coordinator's clock reads `now`.
    fn latest_due(&self, now: PointTime) -> Option<PointTime> {
        match &self.cadence {
            Cadence::Every(period) => Some(now.div_euclid(*period.max(&1)) * period),
            #[cfg(feature = "cron")]
            Cadence::Cron(schedule) => cron_candidates(schedule, now, 0)
                .into_iter()
                .filter(|&point| point <= now)
                .max(),
        }
    }

    /// When the next point is due, on this process's clock.
    fn next_wake(&self) -> Instant {
        let now = self.coordinator_now();
        let next = match &self.cadence {
            Cadence::Every(period) => Some((now.div_euclid(*period.max(&1)) + 1) * period),
            #[cfg(feature = "cron")]
            Cadence::Cron(schedule) => schedule
                .next_after(crate::replicas::point_system_time(now))
                .map(point_time),
        };
        let Some(next) = next else {
            return after(Instant::now(), Duration::MAX);
        };
        let until = Duration::from_micros(u64::try_from(next - now).unwrap_or(0));
        after(Instant::now(), until + MARGIN)
    }

    /// After a claim that started nothing (having `asked` for points, or polled): with a run
    /// in flight, poll again a retry period from now (or claim at the next point, if sooner),
    /// so that a run whose replica went away is taken over within its lease and a retry
    /// period; after a poll that learnt of missed points a policy runs, claim them at once;
    /// else claim at the next point.
    fn wake_after_nothing(&mut self, claim: &RunClaim, asked: bool) -> Instant {
        if claim.in_flight {
            return self.poll_soon();
        }
        let next = self.next_wake();
        let due = self.latest_due(self.coordinator_now());
        let missed = self
            .previous
            .is_some_and(|last| due.is_some_and(|due| due > last));
        if !asked && self.misfire != Misfire::Skip && missed {
            self.polling = true;
            return Instant::now();
        }
        next
    }

    /// With a run in flight, or no answer: ask again a retry period from now, or at the next
    /// point if that is sooner.
    fn poll_soon(&mut self) -> Instant {
        let (next, poll) = (
            self.next_wake(),
            after(Instant::now(), self.settings.retry()),
        );
        self.polling = poll < next;
        next.min(poll)
    }

    /// The coordinator's clock now, as this replica reckons it.
    fn coordinator_now(&self) -> PointTime {
        point_time(self.clock.now()).saturating_add(self.offset)
    }

    /// The coordinator answered `now` to a call sent at `sent` on this process's wall clock:
    /// its offset is taken against the middle of the round trip.
    fn measured(&mut self, sent: SystemTime, now: SystemTime) {
        let received = point_time(self.clock.now());
        let sent = point_time(sent);
        let middle = sent + (received - sent) / 2;
        self.offset = point_time(now).saturating_sub(middle);
    }

    fn answered(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(
                "the coordinator answers again: lifespan task `{}` claims its points",
                self.label
            );
        }
    }

    /// The coordinator failed: logged once per outage; the next try is a retry period from
    /// now, or the next point if that is sooner.
    fn unanswered(&mut self, why: &str) -> Instant {
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(
                coordinator = %self.coordinator.describe(),
                error = %crate::base::redact::redact(why),
                "lifespan task `{}` cannot claim its points: none runs on this replica until the coordinator answers",
                self.label
            );
        }
        self.poll_soon()
    }
}

fn cadence(options: &TaskOptions, period: Duration) -> Cadence {
    #[cfg(feature = "cron")]
    if let Some(expression) = &options.cron {
        if let Ok(schedule) = CronSchedule::parse(expression, options.time_zone.as_deref()) {
            return Cadence::Cron(Box::new(schedule));
        }
    }
    let _ = options;
    let period = i64::try_from(period.as_micros()).unwrap_or(i64::MAX).max(1);
    Cadence::Every(period)
}

/// The occurrences of `schedule` around `now`: the `before` ones before the latest due, the
/// latest due, and the next one.
#[cfg(feature = "cron")]
fn cron_candidates(schedule: &CronSchedule, now: PointTime, before: usize) -> Vec<PointTime> {
    let now_time = crate::replicas::point_system_time(now);
    let mut due = Vec::new();
    let mut until = now_time;
    for _ in 0..=before {
        let Some(latest) = latest_at_or_before(schedule, until) else {
            break;
        };
        due.push(point_time(latest));
        let Some(earlier) = latest.checked_sub(Duration::from_secs(1)) else {
            break;
        };
        until = earlier;
    }
    due.reverse();
    due.extend(schedule.next_after(now_time).map(point_time));
    due
}

/// The latest occurrence of `schedule` at or before `time`, within [`LOOKBACK`]; `None` if it
/// has none there.
///
/// Found by halving, whatever the number of occurrences between (a schedule of every second
/// has 86,400 a day; walking them from a day back would take as many steps): the next
/// occurrence after a second `s` is at or before `time` for every `s` before the latest
/// occurrence, and for none from it on. Occurrences fall on whole seconds, so the halving is
/// over whole seconds: about 25 steps for a year.
#[cfg(feature = "cron")]
fn latest_at_or_before(schedule: &CronSchedule, time: SystemTime) -> Option<SystemTime> {
    let second = |s: i64| crate::replicas::point_system_time(s.saturating_mul(1_000_000));
    let due_after = |s: i64| schedule.next_after(second(s)).filter(|next| *next <= time);
    // The next occurrence after the second `time` falls in is after `time`.
    let mut high = point_time(time).div_euclid(1_000_000);
    let mut low = high.saturating_sub(LOOKBACK.as_secs() as i64);
    let mut found = due_after(low)?;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match due_after(middle) {
            Some(next) => {
                low = middle;
                found = next;
            }
            None => high = middle,
        }
    }
    Some(found)
}

#[cfg(all(test, feature = "cron"))]
mod tests {
    use super::{cron_candidates, CronSchedule};

    /// 2026-01-01T00:00:00Z, in µs.
    const NEW_YEAR: i64 = 1_767_225_600_000_000;
    const SECOND: i64 = 1_000_000;

    #[test]
    fn the_candidates_of_a_schedule_of_every_second_are_those_around_now() {
        let schedule = CronSchedule::parse("* * * * * *", None).unwrap();
        let now = NEW_YEAR + 12 * 3600 * SECOND + SECOND / 2;
        let whole = now - SECOND / 2;
        assert_eq!(
            cron_candidates(&schedule, now, 1),
            [whole - SECOND, whole, whole + SECOND]
        );
        // An occurrence due exactly now is due.
        assert_eq!(
            cron_candidates(&schedule, whole, 0),
            [whole, whole + SECOND]
        );
        assert_eq!(cron_candidates(&schedule, now, 9).len(), 11);
    }

    #[test]
    fn the_candidates_of_a_yearly_schedule_go_back_a_year_for_each() {
        let schedule = CronSchedule::parse("0 0 3 1 1 *", None).unwrap();
        let this_year = NEW_YEAR + 3 * 3600 * SECOND;
        let last_year = this_year - 365 * 86_400 * SECOND;
        let next_year = this_year + 365 * 86_400 * SECOND;
        let june = NEW_YEAR + 151 * 86_400 * SECOND;
        assert_eq!(
            cron_candidates(&schedule, june, 1),
            [last_year, this_year, next_year]
        );
    }
}
