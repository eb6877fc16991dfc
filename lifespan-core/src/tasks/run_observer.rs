//! What a supervised task shows of each run of its body: a span per run, closed when the run
//! ends, so that an exporter sending spans as they close sees every run; the run history of its
//! status; and its metrics.
//!
//! A periodic task's runs are `lifespan.run` spans with a field `run`, the run's number; the
//! attempts of any other supervised task (restarted, critical, singleton) are `lifespan.attempt`
//! spans with a field `attempt`. Both name the task in a field `task`, as the task's own span
//! does, and record `outcome` and `duration_ms` when the run ends. A run cut short by the end
//! of the grace period closes without them.
//!
//! Each run's span is a root, the start of a trace of its own, which follows from the task's
//! span (a link, in OpenTelemetry's terms): a task lives as long as the app, and a trace whose
//! root ends only at shutdown would hold every run of every task. The fields that
//! `tracing-opentelemetry` maps to the span's name, kind and status (`otel.name`, `otel.kind`,
//! `otel.status_code`) and `error.type` are given too: the status and the error's type when the
//! run ends, as fixed words, never the error's text.

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
    /// The task's span, which each run's span follows from.
    task: tracing::Span,
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
    /// The runs of task `index`, whose span is `task`.
    pub(crate) fn new(
        board: Arc<Board>,
        index: usize,
        periodic: bool,
        task: tracing::Span,
    ) -> Self {
        let record = board.histories.record(index);
        let meters = metrics::Runs::new(board.plan.task(index));
        Runs {
            board,
            index,
            periodic,
            count: 0,
            record,
            meters,
            task,
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
        // `parent: None`: a root, whatever span is current; linked to the task's span instead.
        let span = if self.periodic {
            tracing::info_span!(
                parent: None,
                "lifespan.run",
                task = %task,
                run = self.count,
                outcome = Empty,
                duration_ms = Empty,
                otel.name = format_args!("lifespan.run {task}"),
                otel.kind = "internal",
                otel.status_code = Empty,
                error.r#type = Empty,
            )
        } else {
            tracing::info_span!(
                parent: None,
                "lifespan.attempt",
                task = %task,
                attempt = self.count,
                outcome = Empty,
                duration_ms = Empty,
                otel.name = format_args!("lifespan.attempt {task}"),
                otel.kind = "internal",
                otel.status_code = Empty,
                error.r#type = Empty,
            )
        };
        span.follows_from(self.task.id());
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
        match outcome {
            RunOutcome::Succeeded => {
                run.span.record("otel.status_code", "ok");
            }
            RunOutcome::Failed | RunOutcome::Panicked | RunOutcome::TimedOut => {
                run.span.record("otel.status_code", "error");
                run.span.record("error.type", outcome.as_str());
            }
            // Stopped on shutdown, or its singleton's lease was lost: no error, nor a success.
            RunOutcome::Cancelled => {}
        }
        run.span.record(
            "duration_ms",
            u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        );
        self.record.ended(run.began, took, outcome, run.manual);
        self.meters.ended(took, outcome, self.board.clock());
    }
}
