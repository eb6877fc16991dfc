//! The app's call that writes Prometheus alerting rules for its tasks (feature `metrics`).

use crate::inject::app_handle::App;
use crate::status::alert_rules::{AlertRules, AlertRulesError, TaskAlerts};

impl App {
    /// Prometheus alerting rules for the app's periodic (`every`, `cron`) and singleton tasks,
    /// with thresholds from each task's own schedule and lease: see [`AlertRules`] for the
    /// alerts. Its `Display` is the rule file (YAML) to list in Prometheus' `rule_files`.
    /// Feature `metrics`.
    ///
    /// The tasks are those a start would run now: the linked registrations the app selects
    /// and those registered by hand so far, whether or not it runs.
    ///
    /// ```
    /// use lifespan_core::{App, TaskOptions};
    /// use std::time::Duration;
    ///
    /// let app = App::builder().empty().build();
    /// let every = TaskOptions::new().every(Duration::from_secs(30));
    /// app.register_task_with("inventory sync", every, || async {})?;
    /// let rules = app.alert_rules()?.group("inventory")?.label("severity", "page")?;
    /// let yaml = rules.to_string();
    /// assert!(yaml.starts_with("groups:\n  - name: 'inventory'\n    rules:\n"));
    /// // No success on any replica for twice the period: pending, then firing a period later.
    /// assert!(yaml.contains(r#"
    ///       - alert: LifespanTaskNoRecentSuccess
    ///         expr: 'time() - max by (task) (lifespan_task_last_success_timestamp_seconds{task="inventory sync"}) > 60'
    ///         for: 30s
    ///         labels:
    ///           task: 'inventory sync'
    ///           severity: 'page'
    /// "#));
    /// assert!(yaml.contains(r#"expr: 'lifespan_task_failed_for_good{task="inventory sync"} == 1'"#));
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn alert_rules(&self) -> Result<AlertRules, AlertRulesError> {
        let plan = self
            .registry()
            .plan()
            .map_err(|message| AlertRulesError::SelectionPanicked { message })?;
        let lease = self.lease_settings();
        let tasks = plan
            .tasks()
            .filter_map(|entry| TaskAlerts::of(entry.label(), entry.options(), lease))
            .collect();
        Ok(AlertRules::new(tasks))
    }
}
