//! What a supervised task shows of each run of its body: a span per run, closed when the run
//! ends, so that an exporter sending spans as they close sees every run; the run history of its
//! status; and its metrics.
//!
//! A periodic task's runs are `lifespan.run` spans with a field `run`, the run's number; the
//! attempts of any other supervised task (restarted, critical, singleton) are `lifespan.attempt`
//! spans with a field `attempt`. Both name the task in a field `task`, as the task's own span
//! does, and record `outcome` and `duration_ms` when the run ends. A run cut short by the end
//! of the grace period closes without them.

use std::sync::Arc;

use tokio::time::Instant;
use tracing::field::Empty;

use crate::report::outcome::TaskOutcome;
use crate::status::board::Board;
use crate::status::history::Record;
use crate::status::metrics;
use crate::status::snapshot::RunOutcome;

/// The runs of one supervised task, in one start of the app.
pub(crate) struct Runs {
    board: Arc<Board>,
    index: usize,
    /// Whether its runs are a schedule's (`lifespan.run`) or attempts (`lifespan.attempt`).
    periodic: bool,
    /// Runs begun so far.
    count: u64,
    record: Record,
    meters: metrics::Runs,
}

/// One run in progress: its span, and when it began.
pub(crate) struct Run {
    span: tracing::Span,
    began: Instant,
    /// Asked for by hand, outside the schedule.
    manual: bool,
}

impl Run {
    /// The span the run's body is polled in, its failure logged in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }
}

impl Runs {
    pub(crate) fn new(board: Arc<Board>, index: usize, periodic: bool) -> Self {
        let record = board.histories.record(index);
        let meters = metrics::Runs::new(board.plan.task(index).label());
        Runs {
            board,
            index,
            periodic,
            count: 0,
            record,
            meters,
        }
    }

    /// The next run is due at `next`, or none is planned.
    pub(crate) fn planned(&self, next: Option<Instant>) {
        self.record.planned(next);
        self.meters.planned(next, self.board.clock());
    }

    /// A run begins now; `manual`: asked for by hand.
    pub(crate) fn begin(&mut self, manual: bool) -> Run {
        self.count = self.count.saturating_add(1);
        self.record.began();
        self.meters.started(manual);
        let task = self.board.plan.task(self.index).label();
        let span = if self.periodic {
            tracing::info_span!(
                "lifespan.run",
                task = %task,
                run = self.count,
                outcome = Empty,
                duration_ms = Empty,
            )
        } else {
            tracing::info_span!(
                "lifespan.attempt",
                task = %task,
                attempt = self.count,
                outcome = Empty,
                duration_ms = Empty,
            )
        };
        Run {
            span,
            began: Instant::now(),
            manual,
        }
    }

    /// `run` ended so (`None`: stopped because a singleton's lease was lost; `timed_out`: it
    /// was dropped at its time limit). Closes its span.
    pub(crate) fn end(&self, run: Run, ended: Option<&TaskOutcome>, timed_out: bool) {
        let outcome = match ended {
            _ if timed_out => RunOutcome::TimedOut,
            Some(TaskOutcome::Completed) => RunOutcome::Succeeded,
            Some(TaskOutcome::Failed(_)) => RunOutcome::Failed,
            Some(TaskOutcome::Panicked(_)) => RunOutcome::Panicked,
            _ => RunOutcome::Cancelled,
        };
        let took = Instant::now().saturating_duration_since(run.began);
        run.span.record("outcome", outcome.as_str());
        run.span.record(
            "duration_ms",
            u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        );
        self.record.ended(run.began, took, outcome, run.manual);
        self.meters.ended(took, outcome, self.board.clock());
    }
}
