//! The log that every part of an app writes to, with the virtual time.

use std::sync::{Arc, Mutex, Once};

use lifespan_core::Shutdown;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Ok,
    Err,
    Panic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A context's function was called: its start began.
    ContextCalled(usize),
    /// A task's function was called: for a run at startup, or a new one.
    TaskCalled(usize),
    SetupBegan(usize),
    SetupDone(usize),
    /// The setup ended without `ready` (failed, panicked or returned).
    SetupEnded(usize, End),
    CleanupBegan(usize),
    CleanupEnded(usize, End),
    RunBegan(usize),
    /// A run ended; `stopping` says whether it saw the shutdown signal by then.
    RunEnded {
        task: usize,
        end: End,
        stopping: bool,
    },
    /// A run's future was dropped while it ran.
    RunDropped(usize),
    /// A task (or a context) read the provider's state; `ok` if it is the token of its own
    /// start.
    StateRead {
        task: bool,
        ok: bool,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) at: Instant,
    /// Which start of the app (counted over the whole case, reloads included).
    pub(crate) generation: usize,
    pub(crate) event: Event,
}

/// The most records a case may log: a runtime that restarts or reruns a task without end must
/// fail the case, not fill the memory.
pub(crate) const MAX_RECORDS: usize = 20_000;

/// The state a provider hands over: the number of its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token(pub(crate) usize);

#[derive(Default)]
pub(crate) struct Log {
    records: Mutex<Vec<Record>>,
    /// The shutdown signal of each start so far.
    generations: Mutex<Vec<Shutdown>>,
    /// Set once a record past `MAX_RECORDS` was refused.
    overflow: CancellationToken,
}

impl Log {
    /// The start that handed out `shutdown`: a new one if the current start has begun to shut
    /// down (restarted runs get a child of the current signal, which is not cancelled before).
    pub(crate) fn generation(&self, shutdown: &Shutdown) -> usize {
        let mut generations = self.generations.lock().unwrap();
        if generations.last().is_none_or(Shutdown::is_cancelled) {
            generations.push(shutdown.clone());
        }
        generations.len() - 1
    }

    pub(crate) fn push(&self, generation: usize, event: Event) {
        let mut records = self.records.lock().unwrap();
        if records.len() >= MAX_RECORDS {
            self.overflow.cancel();
            return;
        }
        records.push(Record {
            at: Instant::now(),
            generation,
            event,
        });
    }

    /// Completes once the log is full: the case has run away.
    pub(crate) async fn overflowed(&self) {
        self.overflow.cancelled().await;
    }

    pub(crate) fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.records.lock().unwrap().len()
    }
}

/// One run of a task: logs its beginning, its end, or its drop while running.
pub(crate) struct Run {
    log: Arc<Log>,
    generation: usize,
    task: usize,
    ended: bool,
}

impl Run {
    pub(crate) fn begin(log: Arc<Log>, generation: usize, task: usize) -> Self {
        log.push(generation, Event::RunBegan(task));
        Run {
            log,
            generation,
            task,
            ended: false,
        }
    }

    pub(crate) fn end(mut self, end: End, shutdown: &Shutdown) {
        self.ended = true;
        let event = Event::RunEnded {
            task: self.task,
            end,
            stopping: shutdown.is_cancelled(),
        };
        self.log.push(self.generation, event);
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.ended {
            self.log.push(self.generation, Event::RunDropped(self.task));
        }
    }
}

pub(crate) const SETUP_FAILURE: &str = "injected setup failure";
pub(crate) const SETUP_PANIC: &str = "injected setup panic";
pub(crate) const CLEANUP_FAILURE: &str = "injected cleanup failure";
pub(crate) const CLEANUP_PANIC: &str = "injected cleanup panic";
pub(crate) const TASK_FAILURE: &str = "injected task failure";
pub(crate) const TASK_PANIC: &str = "injected task panic";

/// Injected panics are expected by the thousand: keep them out of the test output.
pub(crate) fn silence_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|message| message.starts_with("injected")) {
                default(info);
            }
        }));
    });
}
