//! The default coordinator: one process, every lease granted to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::{
    Acquired, Coordinator, CoordinatorFuture, LeaseRequest, PointClaim, PointRequest, Term,
};
use crate::base::lock::lock;

/// The default [`Coordinator`]: keeps leases in memory, for the processes of one app only.
///
/// With one replica, a singleton task gets its lease at once, with fencing token 1, 2, ... for
/// each term, and a once-per-point task runs on its local schedule like any periodic task:
/// nothing changes for an app that runs as one process. Clones share their leases, so that
/// apps in one process given clones of one `InProcess` behave like replicas (for tests).
#[derive(Clone, Debug, Default)]
pub struct InProcess {
    leases: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    instance: String,
    token: i64,
    since: SystemTime,
    /// `None` once released.
    expires: Option<Instant>,
    last_point: i64,
    /// Until when the last point claimed by name holds the next ones off.
    held_until: Option<Instant>,
}

impl Entry {
    /// A task never leased nor claimed.
    fn new() -> Self {
        Entry {
            instance: String::new(),
            token: 0,
            since: SystemTime::now(),
            expires: None,
            last_point: i64::MIN,
            held_until: None,
        }
    }
}

impl InProcess {
    /// A coordinator for this process alone.
    pub fn new() -> Self {
        InProcess::default()
    }
}

impl Coordinator for InProcess {
    fn describe(&self) -> String {
        "the in-process coordinator".into()
    }

    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let entry = leases
            .entry(request.task.clone())
            .or_insert_with(Entry::new);
        let answer = if entry.expires.is_some_and(|at| at > now) {
            Acquired::Held(Some(super::Holder::new(
                entry.instance.clone(),
                entry.token,
                entry.since,
            )))
        } else {
            entry.token += 1;
            entry.instance.clone_from(&request.instance);
            entry.since = SystemTime::now();
            entry.expires = Some(crate::base::deadline::after(now, request.lease));
            Acquired::Granted(Term::new(
                &request.task,
                &request.instance,
                entry.token,
                entry.since,
            ))
        };
        Box::pin(async move { Ok(answer) })
    }

    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let renewed = match leases.get_mut(&term.task) {
            Some(entry)
                if entry.token == term.token && entry.expires.is_some_and(|at| at > now) =>
            {
                entry.expires = Some(crate::base::deadline::after(now, lease));
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(renewed) })
    }

    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        if let Some(entry) = lock(&self.leases).get_mut(&term.task) {
            if entry.token == term.token {
                entry.expires = None;
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn claim_point<'a>(&'a self, request: &'a PointRequest) -> CoordinatorFuture<'a, PointClaim> {
        let (point, until_next) = point_now(request.period);
        let mut leases = lock(&self.leases);
        let entry = leases
            .entry(request.task.clone())
            .or_insert_with(Entry::new);
        let won = (entry.last_point < point).then(|| {
            entry.last_point = point;
            point
        });
        Box::pin(async move { Ok(PointClaim::new(won, until_next)) })
    }

    fn claim_explicit_point<'a>(
        &'a self,
        request: &'a PointRequest,
        point: i64,
    ) -> CoordinatorFuture<'a, PointClaim> {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let entry = leases
            .entry(request.task.clone())
            .or_insert_with(Entry::new);
        let held = entry.held_until.is_some_and(|until| until > now);
        let won = (entry.last_point < point && !held).then(|| {
            entry.last_point = point;
            entry.held_until = Some(crate::base::deadline::after(now, request.hold));
            point
        });
        Box::pin(async move { Ok(PointClaim::new(won, Duration::ZERO)) })
    }

    fn until_next_point(&self, period: Duration) -> CoordinatorFuture<'_, Duration> {
        let (_, until_next) = point_now(period);
        Box::pin(async move { Ok(until_next) })
    }

    fn is_shared(&self) -> bool {
        false
    }
}

/// The point of a schedule of `period` due now on this machine's clock, and the time until the
/// next one.
fn point_now(period: Duration) -> (i64, Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let period = period.as_nanos().max(1);
    let point = now / period;
    let until_next = period - now % period;
    (
        i64::try_from(point).unwrap_or(i64::MAX),
        Duration::from_nanos(u64::try_from(until_next).unwrap_or(u64::MAX)),
    )
}
