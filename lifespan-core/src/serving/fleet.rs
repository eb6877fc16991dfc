//! The other replicas, as the status route shows them: the statuses they published through the
//! coordinator (see `AppBuilder::publish_status`), read in one call.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::timeout;

use crate::base::redact::redact;
use crate::inject::app_handle::App;
use crate::replicas::ReplicaStatuses;
use crate::status::serialize::unix_millis;

/// How long the route waits for the coordinator's statuses.
const FLEET_PATIENCE: Duration = Duration::from_secs(1);

/// The other replicas' statuses, as the route read them.
pub(crate) enum Fleet {
    /// This app publishes no status, or its coordinator keeps none: nothing to show.
    NotShown,
    Read(ReplicaStatuses),
    /// They could not be read: why, with its causes, masked.
    Failed(String),
}

/// The statuses the replicas of `app` published, read within [`FLEET_PATIENCE`].
pub(crate) async fn read(app: &App) -> Fleet {
    let coordination = app.coordination();
    if coordination.publish_every.is_none() {
        return Fleet::NotShown;
    }
    let fleet = match timeout(FLEET_PATIENCE, coordination.coordinator.replica_statuses()).await {
        Ok(Ok(Some(statuses))) => Fleet::Read(statuses),
        Ok(Ok(None)) => Fleet::NotShown,
        Ok(Err(error)) => Fleet::Failed(redact(&format!("{error:#}")).into_owned()),
        Err(_) => Fleet::Failed(format!(
            "the replicas' statuses were not read within {FLEET_PATIENCE:?}"
        )),
    };
    if let Fleet::Failed(why) = &fleet {
        tracing::debug!(error = %why, "the status route shows replicas it could not read");
    }
    fleet
}

/// The other replicas in the route's JSON.
#[derive(Serialize)]
pub(crate) struct FleetLine<'a> {
    has_error: bool,
    /// Only when errors are shown: then `null` or why they could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Option<&'a str>>,
    replicas: Vec<ReplicaLine<'a>>,
}

/// Another replica's last published status.
#[derive(Serialize)]
struct ReplicaLine<'a> {
    instance: &'a str,
    published_unix_ms: u64,
    /// Milliseconds since it published, on the coordinator's clock.
    age_ms: u64,
    /// Whether it is overdue: stopped, stuck or cut off from the coordinator.
    silent: bool,
    /// Its tasks and contexts as it published them; `null` if that was not JSON.
    status: Option<Box<RawValue>>,
}

impl<'a> FleetLine<'a> {
    /// The line of `fleet` without the replica `own` (the route shows its own status live);
    /// `None` if there is nothing to show.
    pub(crate) fn new(fleet: &'a Fleet, own: &str, show_errors: bool) -> Option<Self> {
        let error = |why| show_errors.then_some(why);
        match fleet {
            Fleet::NotShown => None,
            Fleet::Failed(why) => Some(FleetLine {
                has_error: true,
                error: error(Some(why.as_str())),
                replicas: Vec::new(),
            }),
            Fleet::Read(statuses) => Some(FleetLine {
                has_error: false,
                error: error(None),
                replicas: statuses
                    .replicas
                    .iter()
                    .filter(|replica| replica.instance != own)
                    .map(|replica| ReplicaLine {
                        instance: &replica.instance,
                        published_unix_ms: unix_millis(replica.published),
                        age_ms: millis_between(replica.published, statuses.now),
                        silent: replica.expires < statuses.now,
                        status: RawValue::from_string(replica.status.clone()).ok(),
                    })
                    .collect(),
            }),
        }
    }
}

/// Whole milliseconds from `earlier` to `later`; 0 if `later` is not later.
fn millis_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later
        .duration_since(earlier)
        .map_or(0, |gap| u64::try_from(gap.as_millis()).unwrap_or(u64::MAX))
}
