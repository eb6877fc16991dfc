//! The handles of one task's metrics, made once per process and recorder.
//!
//! Registering a metric with the facade builds its key (the task's name copied into a label)
//! and asks the recorder for it: too much for every start of a task. So the handles of a task
//! are kept in a process-wide cache, keyed by the recorder they were made with and the task's
//! name, and a start looks them up once. Like the cache, they live as long as the process
//! (leaked: a start borrows them without counting references).
//!
//! Keyed by the recorder, because a handle records into the recorder it was made with: an app
//! installs its recorder once per process (`metrics::set_global_recorder`: it is never dropped
//! nor replaced), and its tasks' handles are made once; a recorder installed later, or one
//! installed for a thread or a scope (`metrics::with_local_recorder`, in tests), gets handles
//! of its own. A recorder is known by its address: a local recorder dropped while another one
//! later takes its place in memory would be given the handles made with the first, so a
//! process that installs local recorders one after the other keeps each alive as long as the
//! process (the tests of the metrics leak theirs).
//!
//! The handles of a link-time task are also kept on its entry (see [`of_entry`]), so that the
//! starts after its first find them without the cache's lock and lookup by name.
//!
//! The handles used at every start (starts, running, failed for good) are made with the cache
//! entry; the others at their first use, so that a metric that does not apply to a task (a
//! lease, a timeout, the duration of a run of a task that runs until shutdown) is not shown
//! for it, and a gauge that is "not set before" (the last success) is not shown as 0. Making a
//! handle asks the recorder to register its metric, the main cost of a task's first start in a
//! process.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::AtomicBool;
use std::sync::{OnceLock, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Label};

use super::names::*;
use crate::registration::entry::Entry;
use crate::status::metrics::Operation;

/// The handles of one task's metrics, for one recorder.
pub(crate) struct Meters {
    label: Box<str>,
    /// The recorder they were made with.
    recorder: RecorderId,
    pub(super) starts: Counter,
    pub(super) running: Gauge,
    pub(super) failed_for_good: Gauge,
    /// Whether `failed_for_good` was set to 1 since the task's last start: a start sets it
    /// back to 0 only then (registered, it reads 0).
    pub(super) failed: AtomicBool,
    failures: OnceLock<Counter>,
    panics: OnceLock<Counter>,
    restarts: OnceLock<Counter>,
    timeouts: OnceLock<Counter>,
    manual_runs: OnceLock<Counter>,
    missed_points: OnceLock<Counter>,
    lease_changes: OnceLock<Counter>,
    duration: OnceLock<Histogram>,
    last_success: OnceLock<Gauge>,
    next_run: OnceLock<Gauge>,
    lease_held: OnceLock<Gauge>,
    /// By [`Operation`]: the errors and the durations of its requests.
    requests: [OnceLock<(Counter, Histogram)>; Operation::COUNT],
}

/// The `task` label of task `label`.
fn task(label: &str) -> [(&'static str, String); 1] {
    [("task", label.to_owned())]
}

impl Meters {
    fn new(label: &str, recorder: RecorderId) -> Self {
        Meters {
            label: label.into(),
            recorder,
            starts: metrics::counter!(STARTS, &task(label)),
            running: metrics::gauge!(RUNNING, &task(label)),
            failed_for_good: metrics::gauge!(FAILED_FOR_GOOD, &task(label)),
            failed: AtomicBool::new(false),
            failures: OnceLock::new(),
            panics: OnceLock::new(),
            restarts: OnceLock::new(),
            timeouts: OnceLock::new(),
            manual_runs: OnceLock::new(),
            missed_points: OnceLock::new(),
            lease_changes: OnceLock::new(),
            duration: OnceLock::new(),
            last_success: OnceLock::new(),
            next_run: OnceLock::new(),
            lease_held: OnceLock::new(),
            requests: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    fn counter<'a>(&self, cell: &'a OnceLock<Counter>, name: &'static str) -> &'a Counter {
        cell.get_or_init(|| metrics::counter!(name, &task(&self.label)))
    }

    fn gauge<'a>(&self, cell: &'a OnceLock<Gauge>, name: &'static str) -> &'a Gauge {
        cell.get_or_init(|| metrics::gauge!(name, &task(&self.label)))
    }

    pub(super) fn failures(&self) -> &Counter {
        self.counter(&self.failures, FAILURES)
    }

    pub(super) fn panics(&self) -> &Counter {
        self.counter(&self.panics, PANICS)
    }

    pub(super) fn restarts(&self) -> &Counter {
        self.counter(&self.restarts, RESTARTS)
    }

    pub(super) fn timeouts(&self) -> &Counter {
        self.counter(&self.timeouts, TIMEOUTS)
    }

    pub(super) fn manual_runs(&self) -> &Counter {
        self.counter(&self.manual_runs, MANUAL_RUNS)
    }

    pub(super) fn missed_points(&self) -> &Counter {
        self.counter(&self.missed_points, MISSED_POINTS)
    }

    pub(super) fn lease_changes(&self) -> &Counter {
        self.counter(&self.lease_changes, LEASE_CHANGES)
    }

    /// Made at the first run timed: a plain task stopped by shutdown never makes it.
    pub(super) fn duration(&self) -> &Histogram {
        self.duration
            .get_or_init(|| metrics::histogram!(DURATION, &task(&self.label)))
    }

    pub(super) fn last_success(&self) -> &Gauge {
        self.gauge(&self.last_success, LAST_SUCCESS)
    }

    pub(super) fn next_run(&self) -> &Gauge {
        self.gauge(&self.next_run, NEXT_RUN)
    }

    pub(super) fn lease_held(&self) -> &Gauge {
        self.gauge(&self.lease_held, LEASE_HELD)
    }

    /// The errors and the durations of the task's requests of `operation`.
    pub(super) fn requests(&self, operation: Operation) -> &(Counter, Histogram) {
        self.requests[operation as usize].get_or_init(|| {
            let labels = [
                Label::new("task", self.label.to_string()),
                Label::new("operation", operation.as_str()),
            ];
            (
                metrics::counter!(REQUEST_ERRORS, labels.iter()),
                metrics::histogram!(REQUEST_DURATION, labels.iter()),
            )
        })
    }
}

/// The recorder installed now, for this thread: its address, and its size (a recorder that
/// holds nothing, like the facade's no-op one, may share its address with another value).
type RecorderId = (usize, usize);

fn recorder() -> RecorderId {
    metrics::with_recorder(|recorder| {
        let address = std::ptr::from_ref(recorder).cast::<()>() as usize;
        (address, std::mem::size_of_val(recorder))
    })
}

/// The handles of each task, by its name, for one recorder.
type ByName = HashMap<Box<str>, &'static Meters, BuildHasherDefault<Fnv>>;

/// Per recorder, the handles of each task by its name, in one of [`SHARDS`] shards chosen by
/// the name: each a list, since a process has one recorder, or a few in tests. Read-locked at
/// every lookup, write-locked only to add handles. Sharded, because an app's tasks begin on
/// every worker at once: at its first start, every first poll adds handles, and one lock would
/// have the workers wait for each other (and wake each other) at nearly every task.
static CACHE: [Shard; SHARDS] = [const { Shard(RwLock::new(Vec::new())) }; SHARDS];

/// A power of two.
const SHARDS: usize = 64;

/// One shard of the cache, on a cache line of its own, so that the workers locking two shards
/// do not write the same line.
#[repr(align(64))]
struct Shard(RwLock<Vec<(RecorderId, ByName)>>);

/// The shard of the cache that holds the handles of task `label`.
fn shard(label: &str) -> &'static RwLock<Vec<(RecorderId, ByName)>> {
    let mut hash = Fnv::default();
    hash.write(label.as_bytes());
    // Mixed (Fibonacci hashing: the top bits of the product depend on every bit of the hash),
    // so that names that differ in their last character, which FNV's high bits hardly tell
    // apart, fall in different shards, and so that the names of one shard do not share the
    // bits its map uses for a slot and a tag.
    let mixed = hash.finish().wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &CACHE[(mixed >> (64 - SHARDS.trailing_zeros())) as usize].0
}

/// The handles of task `label`'s metrics with the recorder installed now: made at the first
/// call for this recorder and name, looked up after.
pub(crate) fn meters(label: &str) -> &'static Meters {
    meters_for(label, recorder())
}

/// The handles of task `label`'s metrics with `recorder`: see [`meters`].
fn meters_for(label: &str, recorder: RecorderId) -> &'static Meters {
    let shard = shard(label);
    {
        let cache = shard.read().unwrap_or_else(PoisonError::into_inner);
        let known = cache.iter().find(|(id, _)| *id == recorder);
        if let Some(meters) = known.and_then(|(_, by_name)| by_name.get(label)) {
            return meters;
        }
    }
    // Made before the write lock, which is then held only to insert them: making them asks the
    // recorder for each (microseconds), and at an app's first start every task's first poll
    // comes here at once, on every worker. If another thread made them meanwhile, its handles
    // are kept and these dropped (the recorder gave both the same metrics).
    let made = Meters::new(label, recorder);
    let mut cache = shard.write().unwrap_or_else(PoisonError::into_inner);
    let index = match cache.iter().position(|(id, _)| *id == recorder) {
        Some(index) => index,
        None => {
            cache.push((recorder, ByName::default()));
            cache.len() - 1
        }
    };
    cache[index]
        .1
        .entry(label.into())
        .or_insert_with(|| Box::leak(Box::new(made)))
}

/// The handles of the metrics of `entry`'s task with the recorder installed now: those the
/// entry keeps if they were made with this recorder, else [`meters`]' by its label, then kept
/// on a link-time entry if it keeps none yet. A start finds them so without a lock, a hash or
/// a search.
pub(crate) fn of_entry(entry: &Entry) -> &'static Meters {
    let recorder = recorder();
    let kept = entry.memo.get().copied();
    let kept = kept.and_then(|kept| kept.downcast_ref::<Meters>());
    if let Some(meters) = kept.filter(|meters| meters.recorder == recorder) {
        return meters;
    }
    let meters = meters_for(entry.label(), recorder);
    // Kept on a link-time entry, which every app of the process shares, by the first start
    // only (a start with another recorder, in tests, looks them up). An entry registered by
    // hand belongs to one app, which most processes start once: keeping them would cost its
    // start more than it saves.
    if entry.registration().is_some() {
        let _ = entry.memo.set(meters);
    }
    meters
}

/// FNV-1a: task names are short, and chosen by the app, not by whoever sends it requests, so a
/// hash that resists flooding buys nothing here and costs at every start.
#[derive(Default)]
pub(super) struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
