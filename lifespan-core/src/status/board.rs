//! The board of one start of the app: what it runs and how each part is doing, written by the
//! tasks' wrappers, supervisors, startup and shutdown, read into a [`Status`].
//!
//! A slot of three atomics per task, written by the task's wrapper when it changes state, and a
//! short list of contexts under a lock (contexts change state a few times per start). The run
//! history of supervised tasks is kept aside ([`Histories`]), only for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::base::lock::lock;
use crate::base::name::Name;
use crate::base::wall_clock::WallClock;
use crate::registration::entry::Entry;
use crate::registration::plan::Plan;
use crate::replicas::{Coordination, Holder};
use crate::report::outcome::TaskOutcome;
use crate::report::task_error::TaskError;
use crate::status::control::Controls;
use crate::status::history::{self, Histories};
use crate::status::metrics;
use crate::status::poll_starts::Polls;
use crate::status::snapshot::{ContextStatus, LastRun, LeaseStatus, RunState, Status, TaskStatus};

/// What a task's slot holds: its state, and for a task that ended, how.
mod code {
    pub(super) const STARTING: u8 = 0;
    pub(super) const RUNNING: u8 = 1;
    pub(super) const BACKING_OFF: u8 = 2;
    pub(super) const COMPLETED: u8 = 3;
    pub(super) const CANCELLED: u8 = 4;
    pub(super) const FAILED: u8 = 5;
    pub(super) const PANICKED: u8 = 6;
    pub(super) const ABORTED: u8 = 7;
    /// Startup failed before the task was started.
    pub(super) const NEVER_STARTED: u8 = 8;
    /// A singleton waiting for its lease.
    pub(super) const STANDBY: u8 = 9;
}

/// The state a slot's code shows.
fn run_state(value: u8) -> RunState {
    match value {
        code::STARTING => RunState::Starting,
        code::RUNNING => RunState::Running,
        code::BACKING_OFF => RunState::BackingOff,
        code::COMPLETED | code::CANCELLED => RunState::Stopped,
        code::FAILED | code::PANICKED => RunState::Failed,
        code::NEVER_STARTED => RunState::Stopped,
        code::STANDBY => RunState::Standby,
        _ => RunState::Aborted,
    }
}

/// `since` of a task that ended once shutdown had begun: read as the moment shutdown began,
/// so that the tasks ending on shutdown do not each read the clock.
const SINCE_SHUTDOWN: u64 = u64::MAX;

/// One task's state: three atomics, in one allocation for all tasks.
struct TaskSlot {
    state: AtomicU8,
    restarts: AtomicU32,
    /// Nanoseconds from the board's epoch to the last change of state.
    since: AtomicU64,
}

struct ContextEntry {
    name: Name,
    display_name: Option<&'static str>,
    state: RunState,
    since: Instant,
    last_error: Option<String>,
}

/// What one start of the app runs and how each part is doing.
pub(crate) struct Board {
    pub(crate) plan: Arc<Plan>,
    /// The signal its tasks are given.
    pub(crate) shutdown: CancellationToken,
    /// A poll longer than this is reported as blocking.
    pub(crate) blocking_threshold: Option<Duration>,
    /// When each task's poll in progress began, if the blocking check is on.
    pub(crate) polls: Option<Polls>,
    /// Who the app's replicas ask for leases and points.
    pub(crate) coordination: Coordination,
    epoch: Instant,
    tasks: Box<[TaskSlot]>,
    /// Nanoseconds from the epoch to the start of shutdown; `u64::MAX` before.
    shutdown_at: AtomicU64,
    /// The last error of each task that had one, by index: written only on failures.
    errors: Mutex<HashMap<usize, TaskError>>,
    contexts: Mutex<Vec<ContextEntry>>,
    /// The lease of each singleton task, by index: written only when a lease changes hands.
    leases: Mutex<HashMap<usize, LeaseStatus>>,
    /// Whether `leases` has an entry.
    leased: AtomicBool,
    /// The count of missed points of each once-per-point task, by index, as the coordinator
    /// last answered a claim of this replica.
    missed: Mutex<HashMap<usize, u64>>,
    /// The run history of the tasks whose supervisor keeps one.
    pub(crate) histories: Histories,
    /// What operators asked of each task: its pause, manual runs.
    pub(crate) controls: Controls,
    /// The wall-clock times of the status, from the runtime's clock.
    clock: WallClock,
}

impl Board {
    pub(crate) fn new(
        plan: Arc<Plan>,
        shutdown: CancellationToken,
        blocking_threshold: Option<Duration>,
        coordination: Coordination,
    ) -> Self {
        let tasks: Box<[TaskSlot]> = (0..plan.task_count())
            .map(|_| TaskSlot {
                state: AtomicU8::new(code::STARTING),
                restarts: AtomicU32::new(0),
                since: AtomicU64::new(0),
            })
            .collect();
        let epoch = Instant::now();
        let controls = Controls::new(tasks.len());
        Board {
            plan,
            shutdown,
            blocking_threshold,
            polls: blocking_threshold.map(|_| Polls::new(tasks.len())),
            coordination,
            epoch,
            tasks,
            shutdown_at: AtomicU64::new(u64::MAX),
            errors: Mutex::new(HashMap::new()),
            contexts: Mutex::new(Vec::new()),
            leases: Mutex::new(HashMap::new()),
            leased: AtomicBool::new(false),
            missed: Mutex::new(HashMap::new()),
            histories: Histories::default(),
            controls,
            clock: WallClock::new(),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// The current time, as stored in a slot.
    pub(crate) fn now(&self) -> u64 {
        self.nanos(Instant::now())
    }

    fn set_code(&self, index: usize, code: u8, at: u64) {
        let slot = &self.tasks[index];
        slot.since.store(at, Ordering::Relaxed);
        slot.state.store(code, Ordering::Release);
    }

    /// How long task `index` has been in its state: for a running task, since it was started
    /// or last restarted.
    pub(crate) fn in_state_for(&self, index: usize) -> Duration {
        let since = self.tasks[index].since.load(Ordering::Relaxed);
        Duration::from_nanos(self.now().saturating_sub(since))
    }

    /// Task `index` is running (since `at`, from [`now`](Self::now)).
    pub(crate) fn set_running(&self, index: usize, at: u64) {
        self.set_code(index, code::RUNNING, at);
    }

    /// Startup failed: the tasks it had not started never will be.
    pub(crate) fn startup_failed(&self) {
        let at = self.now();
        for slot in self.tasks.iter() {
            if slot.state.load(Ordering::Acquire) == code::STARTING {
                slot.since.store(at, Ordering::Relaxed);
                slot.state.store(code::NEVER_STARTED, Ordering::Release);
            }
        }
    }

    /// Singleton `index` waits for its lease, held by `holder` if known.
    pub(crate) fn set_standby(&self, index: usize, holder: Option<Holder>) {
        let mut leases = lock(&self.leases);
        let lease = leases.entry(index).or_insert_with(|| LeaseStatus {
            holder: None,
            held_here: false,
            terms: 0,
        });
        lease.holder = holder;
        lease.held_here = false;
        self.leased.store(true, Ordering::Release);
        drop(leases);
        if self.tasks[index].state.load(Ordering::Acquire) != code::STANDBY {
            self.set_code(index, code::STANDBY, self.now());
        }
    }

    /// Singleton `index` holds its lease in a new term, as `holder`.
    pub(crate) fn set_term(&self, index: usize, holder: Holder) {
        let mut leases = lock(&self.leases);
        let lease = leases.entry(index).or_insert_with(|| LeaseStatus {
            holder: None,
            held_here: false,
            terms: 0,
        });
        lease.holder = Some(holder);
        lease.held_here = true;
        lease.terms = lease.terms.saturating_add(1);
        self.leased.store(true, Ordering::Release);
        drop(leases);
        metrics::lease_held(self.plan.task(index).label(), true);
    }

    /// Singleton `index` no longer holds its lease (given up on shutdown, or at its end).
    pub(crate) fn end_term(&self, index: usize) {
        let held = lock(&self.leases)
            .get_mut(&index)
            .map(|lease| {
                lease.holder = None;
                std::mem::replace(&mut lease.held_here, false)
            })
            .unwrap_or(false);
        if held {
            metrics::lease_held(self.plan.task(index).label(), false);
        }
    }

    /// Whether singleton `index` holds its lease on this replica now.
    pub(crate) fn held_here(&self, index: usize) -> bool {
        lock(&self.leases)
            .get(&index)
            .is_some_and(|lease| lease.held_here)
    }

    /// The wall clock now, as the status reads it.
    pub(crate) fn wall_now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    /// The wall clock the status shows its times by.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn clock(&self) -> &WallClock {
        &self.clock
    }

    /// How many terms singleton `index` held; 0 for other tasks.
    pub(crate) fn terms(&self, index: usize) -> u32 {
        // No lock, and no look at the task's options, in an app whose singletons never asked
        // for a lease: shutdown asks for every task.
        if !self.leased.load(Ordering::Acquire) {
            return 0;
        }
        lock(&self.leases)
            .get(&index)
            .map_or(0, |lease| lease.terms)
    }

    /// Once-per-point task `index` has `missed` points missed, as the coordinator says.
    pub(crate) fn set_missed(&self, index: usize, missed: u64) {
        lock(&self.missed).insert(index, missed);
    }

    /// Task `index` waits to be restarted.
    pub(crate) fn set_backing_off(&self, index: usize) {
        self.set_code(index, code::BACKING_OFF, self.now());
    }

    /// Task `index` ended so: stamped with the start of shutdown if that has begun. The message
    /// of a failure is its last error, recorded before.
    pub(crate) fn set_ended(&self, index: usize, outcome: &TaskOutcome) {
        let code = match outcome {
            TaskOutcome::Completed => code::COMPLETED,
            TaskOutcome::Cancelled => code::CANCELLED,
            TaskOutcome::Failed(_) => code::FAILED,
            TaskOutcome::Panicked(_) => code::PANICKED,
            TaskOutcome::Aborted => code::ABORTED,
        };
        let at = if self.is_stopping() {
            SINCE_SHUTDOWN
        } else {
            self.now()
        };
        self.set_code(index, code, at);
        if matches!(outcome, TaskOutcome::Failed(_) | TaskOutcome::Panicked(_)) {
            // Set to 0 at each start: an end that is no failure leaves it so.
            metrics::failed_for_good(self.plan.task(index).label());
        }
    }

    /// Task `index` was aborted now.
    pub(crate) fn set_aborted(&self, index: usize) {
        self.set_code(index, code::ABORTED, self.now());
    }

    /// Whether task `index` has recorded how it ended.
    pub(crate) fn has_ended(&self, index: usize) -> bool {
        matches!(
            self.tasks[index].state.load(Ordering::Acquire),
            code::COMPLETED | code::CANCELLED | code::FAILED | code::PANICKED | code::ABORTED
        )
    }

    /// How task `index` ended: `None` if it has not recorded an end (it is running, or was
    /// aborted before it could).
    pub(crate) fn ended(&self, index: usize) -> Option<TaskOutcome> {
        let error = || {
            lock(&self.errors)
                .get(&index)
                .cloned()
                .unwrap_or_else(|| TaskError::msg(String::new()))
        };
        Some(match self.tasks[index].state.load(Ordering::Acquire) {
            code::COMPLETED => TaskOutcome::Completed,
            code::CANCELLED => TaskOutcome::Cancelled,
            code::FAILED => TaskOutcome::Failed(error()),
            code::PANICKED => TaskOutcome::Panicked(error().to_string()),
            code::ABORTED => TaskOutcome::Aborted,
            _ => return None,
        })
    }

    pub(crate) fn count_restart(&self, index: usize) {
        self.tasks[index].restarts.fetch_add(1, Ordering::Relaxed);
        metrics::restarted(self.plan.task(index).label());
    }

    pub(crate) fn restarts(&self, index: usize) -> u32 {
        self.tasks[index].restarts.load(Ordering::Relaxed)
    }

    /// Records task `index`'s last error: what it returned, or its panic's message.
    pub(crate) fn set_task_error(&self, index: usize, error: TaskError) {
        lock(&self.errors).insert(index, error);
    }

    /// Shutdown begins now.
    pub(crate) fn begin_shutdown(&self) {
        // The first call stamps the start; a later one (a generation dropped after its stop)
        // keeps it.
        let _ = self.shutdown_at.compare_exchange(
            u64::MAX,
            self.now(),
            Ordering::Release,
            Ordering::Relaxed,
        );
        self.shutdown.cancel();
    }

    /// Whether shutdown has begun: what the tasks' signal says, read without the lock that
    /// asking the signal takes (every task ending on shutdown asks).
    #[inline]
    pub(crate) fn is_stopping(&self) -> bool {
        self.shutdown_at.load(Ordering::Acquire) != u64::MAX
    }

    /// A context's setup begins; returns its index on the board.
    pub(crate) fn context_starting(
        &self,
        name: &Name,
        display_name: Option<&'static str>,
    ) -> usize {
        let mut contexts = lock(&self.contexts);
        contexts.push(ContextEntry {
            name: name.clone(),
            display_name,
            state: RunState::Starting,
            since: Instant::now(),
            last_error: None,
        });
        contexts.len() - 1
    }

    /// Context `index` entered `state`.
    pub(crate) fn set_context(&self, index: usize, state: RunState, error: Option<String>) {
        if let Some(entry) = lock(&self.contexts).get_mut(index) {
            entry.state = state;
            entry.since = Instant::now();
            if error.is_some() {
                entry.last_error = error;
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Status {
        let now = Instant::now();
        let shutdown_at = self.shutdown_at.load(Ordering::Relaxed);
        let errors = lock(&self.errors);
        let leases = lock(&self.leases);
        let missed = lock(&self.missed);
        let histories = self.histories.read();
        let read = Read {
            now,
            shutdown_at,
            errors: &errors,
            leases: &leases,
            missed: &missed,
            histories: histories.as_deref(),
        };
        let tasks = self
            .plan
            .tasks()
            .zip(self.tasks.iter())
            .enumerate()
            .map(|(index, (entry, slot))| self.task_status(&read, index, entry, slot))
            .collect();
        drop(histories);
        drop(missed);
        drop(leases);
        drop(errors);
        let contexts = lock(&self.contexts)
            .iter()
            .map(|c| ContextStatus {
                name: c.name.clone(),
                display_name: c.display_name,
                state: c.state,
                last_error: c.last_error.clone(),
                in_state: now.saturating_duration_since(c.since),
            })
            .collect();
        Status { tasks, contexts }
    }

    /// The line of task `index` (`entry`, its slot `slot`) in a snapshot.
    fn task_status(
        &self,
        read: &Read<'_>,
        index: usize,
        entry: &Entry,
        slot: &TaskSlot,
    ) -> TaskStatus {
        let mut state = run_state(slot.state.load(Ordering::Acquire));
        let mut since = slot.since.load(Ordering::Relaxed);
        if since == SINCE_SHUTDOWN {
            since = read.shutdown_at;
        }
        if read.shutdown_at != u64::MAX && matches!(state, RunState::Running) {
            state = RunState::Stopping;
            since = since.max(read.shutdown_at);
        }
        let in_state = self
            .nanos(read.now)
            .checked_sub(since)
            .map_or(Duration::ZERO, Duration::from_nanos);
        let record = read.histories.and_then(|h| h.get(&index));
        let shown = record.map_or_else(history::Shown::default, |record| {
            history::read(record, &self.clock)
        });
        let options = entry.options();
        TaskStatus {
            name: entry.name.clone(),
            display_name: options.display_name,
            state,
            restarts: slot.restarts.load(Ordering::Relaxed),
            last_error: read.errors.get(&index).map(|error| format!("{error:#}")),
            in_state,
            lease: read.leases.get(&index).cloned().or_else(|| {
                options.singleton.then_some(LeaseStatus {
                    holder: None,
                    held_here: false,
                    terms: 0,
                })
            }),
            runs: shown.runs,
            manual_runs: shown.manual_runs,
            last_run: shown.last.map(|ran| LastRun {
                started: self.clock.at(ran.started),
                duration: ran.duration,
                outcome: ran.outcome,
            }),
            next_run: shown.next.filter(|_| read.shutdown_at == u64::MAX),
            paused: self.controls.paused(index),
            missed: options
                .once_per_point
                .then(|| read.missed.get(&index).copied().unwrap_or(0)),
        }
    }
}

/// What a snapshot reads its tasks' lines from, under the board's locks.
struct Read<'a> {
    now: Instant,
    /// As `shutdown_at` holds it.
    shutdown_at: u64,
    errors: &'a HashMap<usize, TaskError>,
    leases: &'a HashMap<usize, LeaseStatus>,
    missed: &'a HashMap<usize, u64>,
    histories: Option<&'a HashMap<usize, history::Record>>,
}
