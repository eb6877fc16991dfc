//! What `App::status` and `App::state` say: a little before a shutdown, where the model tells
//! each task's state, restarts and error; and once each start is over.

use lifespan_core::RunState;

use super::check::{outcome_state, Checked, Checker};
use super::drive::*;
use super::model::{Expected, TaskModel};
use super::record::*;

fn settled(state: RunState) -> bool {
    !matches!(
        state,
        RunState::Running | RunState::Starting | RunState::BackingOff | RunState::Stopping
    )
}

impl Checker<'_> {
    /// The token a start that completed provides, if its provider is registered.
    fn token_of(&self, generation: usize) -> Option<Token> {
        let (contexts, _) = self.registered(generation);
        self.case
            .provider
            .filter(|&p| p < contexts)
            .map(|_| Token(generation))
    }

    /// The status and state while start `generation` ran, at an instant when nothing changes.
    pub(crate) fn check_probe(
        &self,
        generation: usize,
        probe: &Probe,
        models: &[TaskModel],
    ) -> Checked {
        let want = self.token_of(generation);
        ensure!(
            probe.token == want,
            "while running, the state is {:?}, expected {want:?}",
            probe.token
        );
        let (contexts, tasks) = self.registered(generation);
        let listed: Vec<&str> = probe.status.contexts.iter().map(|c| &*c.name).collect();
        let want: Vec<String> = (0..contexts).map(context_name).collect();
        ensure!(
            listed == want,
            "while running, the status lists contexts {listed:?}, expected {want:?}"
        );
        for context in &probe.status.contexts {
            ensure!(
                context.state == RunState::Running && context.last_error.is_none(),
                "while running, {} is {} with error {:?}",
                context.name,
                context.state,
                context.last_error
            );
        }
        ensure!(
            probe.status.tasks.len() == tasks,
            "while running, the status lists {} tasks, {tasks} registered",
            probe.status.tasks.len()
        );
        for (task, (status, model)) in probe.status.tasks.iter().zip(models).enumerate() {
            let want = model.at(probe.at).expect("the probe comes after startup");
            ensure!(
                status.state == want.state
                    && status.restarts == want.restarts
                    && status.last_error.is_some() == want.error,
                "at {}, t{task} is {} with {} restarts and error {:?}; expected {want:?}",
                self.ms(probe.at),
                status.state,
                status.restarts,
                status.last_error
            );
            self.saw(format!("status while running: a task {}", status.state));
        }
        Ok(())
    }

    /// Once start `generation` is over (shut down, or failed): nothing left running (4), no
    /// state, and a status that says how each part ended (5). `models` if it had started.
    pub(crate) fn check_after(
        &self,
        generation: usize,
        attempt: &Attempt,
        models: Option<&[TaskModel]>,
    ) -> Checked {
        let Some(after) = &attempt.after else {
            return Ok(());
        };
        let report = match &attempt.started {
            Started::No { rollback, .. } => Some(rollback),
            _ => attempt.stop.as_ref().and_then(|stop| stop.report.as_ref()),
        };
        ensure!(
            after.alive == 0,
            "{} tokio tasks still alive when the app's call returned",
            after.alive
        );
        ensure!(
            after.token.is_none(),
            "state {:?} readable once the app is down",
            after.token
        );
        let tasks = self.tasks_in(generation);
        ensure!(
            after.status.tasks.len() == tasks,
            "the status lists {} tasks, {tasks} registered",
            after.status.tasks.len()
        );
        for (task, status) in after.status.tasks.iter().enumerate() {
            ensure!(
                settled(status.state),
                "status once down: t{task} is {}",
                status.state
            );
            let (state, restarts, error) = match (models, report) {
                (Some(models), Some(report)) => {
                    let model = &models[task];
                    let failed = matches!(
                        model.expected,
                        Expected::Failed | Expected::Panicked | Expected::FailedAtLimit
                    );
                    let restarts = report.tasks[task].restarts;
                    (model.expected.state(), restarts, model.had_error || failed)
                }
                // Never started: startup failed.
                _ => (RunState::Stopped, 0, false),
            };
            ensure!(
                status.state == state
                    && status.restarts == restarts
                    && status.last_error.is_some() == error,
                "status once down: t{task} is {} with {} restarts and error {:?}, expected {state} with {restarts} and error: {error}",
                status.state,
                status.restarts,
                status.last_error
            );
            if error {
                self.saw("status once down: a task error");
            }
        }
        self.check_contexts_after(generation, after, report)
    }

    /// The contexts whose setup began in start `generation`, in order, each as it ended.
    pub(crate) fn check_contexts_after(
        &self,
        generation: usize,
        after: &After,
        report: Option<&lifespan_core::Report>,
    ) -> Checked {
        let began: Vec<String> = self
            .of(generation)
            .filter_map(|(_, r)| match r.event {
                Event::SetupBegan(c) => Some(context_name(c)),
                _ => None,
            })
            .collect();
        let listed: Vec<&str> = after.status.contexts.iter().map(|c| &*c.name).collect();
        ensure!(
            listed == began,
            "status lists contexts {listed:?}, setups began in {began:?}"
        );
        for status in &after.status.contexts {
            let cleaned = report.and_then(|r| r.contexts.iter().find(|l| l.name == status.name));
            // One whose setup did not complete failed; one cleaned up ended as its cleanup.
            let want = cleaned.map_or(RunState::Failed, |line| outcome_state(&line.outcome));
            let error = want == RunState::Failed;
            ensure!(
                status.state == want && status.last_error.is_some() == error,
                "status once down: {} is {} with error {:?}, expected {want} with error: {error}",
                status.name,
                status.state,
                status.last_error
            );
        }
        Ok(())
    }
}
