//! The metrics, with the feature off: nothing, which the compiler removes.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::base::wall_clock::WallClock;
use crate::registration::entry::Entry;
use crate::report::outcome::TaskOutcome;
use crate::status::metrics::Operation;
use crate::status::snapshot::RunOutcome;

#[inline(always)]
pub(crate) fn describe() {}

#[inline(always)]
pub(crate) fn failed(_: &str) {}

#[inline(always)]
pub(crate) fn panicked(_: &str) {}

#[inline(always)]
pub(crate) fn restarted(_: &str) {}

#[inline(always)]
pub(crate) fn failed_for_good(_: &str) {}

#[inline(always)]
pub(crate) fn lease_held(_: &str, _: bool) {}

#[inline(always)]
pub(crate) fn missed_points(_: &str, _: u64) {}

pub(crate) struct Running;

impl Running {
    #[inline(always)]
    pub(crate) fn start(_: &Entry) -> Self {
        Running
    }
}

pub(crate) struct Runs;

impl Runs {
    #[inline(always)]
    pub(crate) fn new(_: &Entry) -> Self {
        Runs
    }

    #[inline(always)]
    pub(crate) fn started(&self, _: bool) {}

    #[inline(always)]
    pub(crate) fn planned(&self, _: Option<Instant>, _: &WallClock) {}

    #[inline(always)]
    pub(crate) fn ended(&self, _: Duration, _: RunOutcome, _: &WallClock) {}
}

pub(crate) struct Plain;

impl Plain {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Plain
    }

    #[inline(always)]
    pub(crate) fn begun(&self) -> bool {
        true
    }

    #[inline(always)]
    pub(crate) fn begin(&mut self, _: &Entry) {}

    #[inline(always)]
    pub(crate) fn ended(&self, _: &TaskOutcome, _: impl FnOnce() -> Duration, _: &WallClock) {}
}

pub(crate) struct Requests;

impl Requests {
    #[inline(always)]
    pub(crate) fn new(_: &str, _: &CancellationToken) -> Self {
        Requests
    }

    #[inline(always)]
    pub(crate) async fn measure<T, E>(
        &self,
        _: Operation,
        request: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        request.await
    }
}
