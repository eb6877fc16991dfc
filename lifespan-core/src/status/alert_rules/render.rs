//! The rule file: YAML written by hand, each value quoted by [`escape`](super::escape), one
//! rule per alert and task.

use std::fmt;
use std::time::Duration;

use super::escape::{prometheus_duration, promql_string, seconds, template_text, yaml_string};
use super::{AlertRules, TaskAlerts};

const LAST_SUCCESS: &str = "lifespan_task_last_success_timestamp_seconds";
const FAILED_FOR_GOOD: &str = "lifespan_task_failed_for_good";
const LEASE_HELD: &str = "lifespan_task_lease_held";

/// One alerting rule.
struct Rule {
    alert: &'static str,
    expr: String,
    /// Zero: none.
    pending: Duration,
    summary: String,
}

impl AlertRules {
    /// The rules of one task, in a fixed order.
    fn rules_of(&self, task: &TaskAlerts) -> Vec<Rule> {
        let matcher = format!("{{task={}}}", promql_string(&task.task));
        let mut rules = Vec::with_capacity(4);
        if let Some(period) = task.period {
            let threshold = self.times(period);
            let limit = prometheus_duration(threshold);
            let period_text = prometheus_duration(period);
            rules.push(Rule {
                alert: "LifespanTaskNoRecentSuccess",
                expr: format!(
                    "time() - max by (task) ({LAST_SUCCESS}{matcher}) > {}",
                    seconds(threshold)
                ),
                pending: period,
                summary: format!("Task {{{{ $labels.task }}}} has not succeeded for over {limit} ({} × its period of {period_text})", self.multiplier),
            });
            rules.push(Rule {
                alert: "LifespanTaskNeverSucceeded",
                expr: format!("absent({LAST_SUCCESS}{matcher})"),
                pending: threshold.saturating_add(task.initial_delay),
                summary: format!("Task {{{{ $labels.task }}}} has no success recorded on any replica (its period: {period_text})"),
            });
        }
        rules.push(Rule {
            alert: "LifespanTaskFailedForGood",
            expr: format!("{FAILED_FOR_GOOD}{matcher} == 1"),
            pending: Duration::ZERO,
            summary: "Task {{ $labels.task }} failed for good on {{ $labels.instance }}".into(),
        });
        if let Some(lease) = task.lease {
            let handover = lease.lease().saturating_add(lease.retry());
            rules.push(Rule {
                alert: "LifespanTaskLeaseNotHeld",
                expr: format!("sum by (task) ({LEASE_HELD}{matcher}) < 1"),
                pending: self.times(handover),
                summary: "No replica holds the lease of singleton task {{ $labels.task }}".into(),
            });
        }
        rules
    }

    fn write_rule(&self, f: &mut fmt::Formatter<'_>, task: &str, rule: &Rule) -> fmt::Result {
        writeln!(f, "      - alert: {}", rule.alert)?;
        writeln!(f, "        expr: {}", yaml_string(&rule.expr))?;
        if !rule.pending.is_zero() {
            writeln!(f, "        for: {}", prometheus_duration(rule.pending))?;
        }
        // The task's name as a label of the rule too (the expression keeps it as well):
        // Prometheus tells rules apart by alert name and labels, and lints rules that share
        // both as duplicates. Label values are templates: their braces are escaped.
        writeln!(f, "        labels:")?;
        let task = Some(("task", task));
        let labels = self
            .labels
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()));
        for (name, value) in task.into_iter().chain(labels) {
            writeln!(
                f,
                "          {name}: {}",
                yaml_string(&template_text(value))
            )?;
        }
        writeln!(f, "        annotations:")?;
        writeln!(f, "          summary: {}", yaml_string(&rule.summary))
    }
}

impl fmt::Display for AlertRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "groups:")?;
        writeln!(f, "  - name: {}", yaml_string(&self.group))?;
        if self.tasks.is_empty() {
            return writeln!(f, "    rules: []");
        }
        writeln!(f, "    rules:")?;
        for task in &self.tasks {
            for rule in self.rules_of(task) {
                self.write_rule(f, &task.task, &rule)?;
            }
        }
        Ok(())
    }
}
