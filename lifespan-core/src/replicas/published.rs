//! What each replica publishes of its own status through the coordinator, so that any
//! replica's status route and dashboard show the whole fleet: see
//! [`Coordinator::publish_status`](super::Coordinator::publish_status).

use std::time::{Duration, SystemTime};

/// How long a coordinator keeps the status of a replica that stopped publishing, counted from
/// when it expired: long enough for an operator to see which replica went silent, short
/// enough that the replicas of old deployments do not pile up.
pub const FORGET_SILENT_REPLICAS_AFTER: Duration = Duration::from_secs(3600);

/// A replica's status as it last published it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaStatus {
    /// The replica's [instance](crate::AppBuilder::instance) name.
    pub instance: String,
    /// Its status, as the replica wrote it: JSON, which the coordinator keeps as it is.
    pub status: String,
    /// When it published it, on the coordinator's clock.
    pub published: SystemTime,
    /// When it is due to publish again at the latest, on the coordinator's clock: past that,
    /// the replica is silent (stopped, stuck or cut off).
    pub expires: SystemTime,
}

impl ReplicaStatus {
    /// The status `status` of `instance`, published at `published`, expiring at `expires`: for
    /// coordinators.
    pub fn new(
        instance: impl Into<String>,
        status: impl Into<String>,
        published: SystemTime,
        expires: SystemTime,
    ) -> Self {
        ReplicaStatus {
            instance: instance.into(),
            status: status.into(),
            published,
            expires,
        }
    }
}

/// What [`Coordinator::replica_statuses`](super::Coordinator::replica_statuses) answered: the
/// statuses the coordinator keeps, and its clock when it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaStatuses {
    /// One per replica, ordered by instance name.
    pub replicas: Vec<ReplicaStatus>,
    /// The coordinator's clock when it answered: a replica whose status expired before it is
    /// silent.
    pub now: SystemTime,
}

impl ReplicaStatuses {
    /// The statuses `replicas` read at `now` on the coordinator's clock: for coordinators.
    pub fn new(mut replicas: Vec<ReplicaStatus>, now: SystemTime) -> Self {
        replicas.sort_by(|a, b| a.instance.cmp(&b.instance));
        ReplicaStatuses { replicas, now }
    }
}
