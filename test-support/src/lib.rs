//! Support code for the tests of the lifespan workspace: bounded waits, an ordered log of events,
//! captured `tracing` lines, a minimal HTTP client, error chains, child processes, programs of
//! the machine and temporary folders, a PostgreSQL database, and a counting allocator for the
//! benchmarks.
//!
//! It uses none of `lifespan-core`'s types, so that `lifespan-core`'s own tests can use it as a
//! dev-dependency without a second copy of the runtime in their build.
#![deny(missing_docs)]

mod alloc;
mod postgres;
#[cfg(unix)]
mod process;
mod programs;

pub use alloc::{live, Counting};
pub use postgres::{test_database, unique_name, TestDatabase, DATABASE_URL_VARIABLE, SKIP_MESSAGE};
pub use programs::{program, TempFolder};

#[cfg(unix)]
pub use process::{Process, PATIENCE};

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The bound the tests put on each wait on paused time: an hour of virtual time, far more than any
/// of them needs. The paused clock jumps ahead whenever every task waits, so a wait that would
/// never end fails at once, and a loop that waits between its rounds (a restart's backoff, a
/// period) gets through a bounded number of them before the wait fails.
pub const WAIT_LIMIT: Duration = Duration::from_secs(3600);

/// Awaits `future` for at most `limit`, and panics naming `what` if it has not finished by then,
/// so that a test waiting on the runtime fails with a message instead of hanging. With paused
/// tokio time, the limit is virtual (see [`WAIT_LIMIT`]).
///
/// ```
/// use lifespan_test_support::{bounded, WAIT_LIMIT};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(bounded("the answer", WAIT_LIMIT, async { 42 }).await, 42);
///
/// let never = tokio::spawn(bounded("the reply", WAIT_LIMIT, std::future::pending::<()>()));
/// let panic = never.await.unwrap_err().into_panic();
/// assert_eq!(
///     panic.downcast_ref::<String>().unwrap(),
///     "the reply did not finish within 3600s"
/// );
/// # }
/// ```
pub async fn bounded<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// An ordered log of what tasks and contexts did, for tests to compare against.
///
/// It can be a `static`, so that a `#[lifespan_task]` can receive it as a keyword argument.
///
/// ```
/// static EVENTS: lifespan_test_support::Events = lifespan_test_support::Events::new();
/// EVENTS.push("setup a");
/// EVENTS.push("cleanup a");
/// assert_eq!(EVENTS.take(), ["setup a", "cleanup a"]);
/// ```
///
/// It holds at most [`Events::MAX`] events (or the number given to [`Events::with_max`]): one
/// more panics, so that something that should have ended but loops runs out of room to log
/// long before the machine runs out of memory.
///
/// ```should_panic
/// let events = lifespan_test_support::Events::with_max(2);
/// events.push("first");
/// events.push("second");
/// events.push("third");
/// ```
#[derive(Debug)]
pub struct Events {
    log: Mutex<Vec<String>>,
    pushed: tokio::sync::Notify,
    max: usize,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    /// How many events a log made by [`Events::new`] holds at most.
    pub const MAX: usize = 10_000;

    /// An empty log, holding at most [`Events::MAX`] events.
    pub const fn new() -> Self {
        Events::with_max(Events::MAX)
    }

    /// An empty log, holding at most `max` events.
    pub const fn with_max(max: usize) -> Self {
        Events {
            log: Mutex::new(Vec::new()),
            pushed: tokio::sync::Notify::const_new(),
            max,
        }
    }

    /// Records one event. Panics if the log already holds its maximum.
    pub fn push(&self, event: impl Into<String>) {
        let event = event.into();
        let mut log = self.log.lock().unwrap();
        if log.len() >= self.max {
            // Released first, so that the log stays readable after the panic.
            drop(log);
            panic!(
                "more than {} events recorded, the last `{event}`: something that should have ended keeps running",
                self.max
            );
        }
        log.push(event);
        drop(log);
        self.pushed.notify_waiters();
    }

    /// Waits until `event` has been recorded.
    pub async fn wait_for(&self, event: &str) {
        loop {
            let pushed = self.pushed.notified();
            let mut pushed = std::pin::pin!(pushed);
            pushed.as_mut().enable();
            if self.log.lock().unwrap().iter().any(|e| e == event) {
                return;
            }
            pushed.await;
        }
    }

    /// Waits until `event` has been recorded, for at most `limit`: past it, panics naming the
    /// event (see [`bounded`]).
    pub async fn wait_for_within(&self, event: &str, limit: Duration) {
        let what = format!("the wait for the event `{event}`");
        bounded(&what, limit, self.wait_for(event)).await;
    }

    /// The events so far, in order, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// The events so far, in order.
    pub fn snapshot(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Log lines captured from `tracing`, for tests that check what the library logs, with the
/// spans that closed and the fields recorded as error values.
///
/// ```
/// let logs = lifespan_test_support::CapturedLogs::default();
/// tracing::subscriber::with_default(logs.subscriber(), || {
///     let span = tracing::info_span!("work", run = 1, outcome = tracing::field::Empty);
///     span.record("outcome", "succeeded");
///     let error = std::io::Error::other("gone");
///     span.in_scope(|| tracing::warn!(task = "t", error = &error as &(dyn std::error::Error + 'static), "hello"));
/// });
/// assert!(logs.lines().iter().any(|line| line == "WARN hello task=t error=gone"));
/// assert_eq!(logs.error_values(), ["error=gone"]);
/// let spans = logs.closed_spans();
/// assert_eq!(spans[0].name, "work");
/// assert_eq!(spans[0].field("run"), Some("1"));
/// assert_eq!(spans[0].field("outcome"), Some("succeeded"));
/// ```
#[derive(Clone, Default, Debug)]
pub struct CapturedLogs(Arc<Captured>);

#[derive(Default, Debug)]
struct Captured {
    lines: Mutex<Vec<String>>,
    /// The fields of events recorded as `&dyn Error`, as `field=message: cause: ...`.
    errors: Mutex<Vec<String>>,
    /// Spans open now, by id.
    open: Mutex<std::collections::HashMap<u64, ClosedSpan>>,
    closed: Mutex<Vec<ClosedSpan>>,
}

/// A span that closed, as [`CapturedLogs`] saw it: its name and the fields it was given, when
/// it was made and later with `record`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedSpan {
    /// The span's name.
    pub name: &'static str,
    /// Its fields, by name, as text, in the order they were first given a value.
    pub fields: Vec<(&'static str, String)>,
}

impl ClosedSpan {
    /// The value of field `name`, if it was given one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }
}

impl CapturedLogs {
    /// A subscriber that records every event as `LEVEL message field=value ...`, and every span
    /// when it closes.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        use tracing_subscriber::layer::SubscriberExt;
        keep_every_callsite_enabled();
        tracing_subscriber::registry().with(CaptureLayer(self.clone()))
    }

    /// The lines recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lines.lock().unwrap().clone()
    }

    /// The fields of events that were recorded as error values (`&dyn std::error::Error`), not
    /// as text: `field=message: cause: ...`.
    pub fn error_values(&self) -> Vec<String> {
        self.0.errors.lock().unwrap().clone()
    }

    /// The spans that closed so far, in the order they closed.
    pub fn closed_spans(&self) -> Vec<ClosedSpan> {
        self.0.closed.lock().unwrap().clone()
    }
}

/// `tracing` decides once per log statement, for the whole process, whether anything is
/// interested in it. While a single dispatcher is alive, it asks the default subscriber of the
/// thread that reaches the statement first: on a test thread that captures nothing, the answer is
/// "never", and a test capturing on another thread then misses that line. A second dispatcher,
/// alive for the whole process and interested in everything, makes `tracing` ask every live
/// dispatcher instead, so that a capture sees every line logged on its thread.
///
/// [`CapturedLogs::subscriber`] calls it; a test that sets a subscriber of its own as its
/// thread's default calls it first.
pub fn keep_every_callsite_enabled() {
    static ALWAYS_INTERESTED: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ALWAYS_INTERESTED.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
}

struct CaptureLayer(CapturedLogs);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut visitor = LineVisitor::default();
        event.record(&mut visitor);
        let line = format!(
            "{} {}{}",
            event.metadata().level(),
            visitor.message,
            visitor.fields
        );
        let captured = &(self.0).0;
        captured.lines.lock().unwrap().push(line);
        captured.errors.lock().unwrap().extend(visitor.errors);
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut span = ClosedSpan {
            name: attrs.metadata().name(),
            fields: Vec::new(),
        };
        attrs.record(&mut SpanVisitor(&mut span));
        (self.0).0.open.lock().unwrap().insert(id.into_u64(), span);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = (self.0).0.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut SpanVisitor(span));
        }
    }

    fn on_close(&self, id: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        let captured = &(self.0).0;
        let span = captured.open.lock().unwrap().remove(&id.into_u64());
        if let Some(span) = span {
            captured.closed.lock().unwrap().push(span);
        }
    }
}

/// Records the fields of a span into it.
struct SpanVisitor<'a>(&'a mut ClosedSpan);

impl tracing::field::Visit for SpanVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_text(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.record_text(field, value.to_owned());
    }
}

impl SpanVisitor<'_> {
    fn record_text(&mut self, field: &tracing::field::Field, value: String) {
        let fields = &mut self.0.fields;
        match fields.iter_mut().find(|(name, _)| *name == field.name()) {
            Some((_, old)) => *old = value,
            None => fields.push((field.name(), value)),
        }
    }
}

#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
    errors: Vec<String>,
}

impl tracing::field::Visit for LineVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields
                .push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.push_str(&format!(" {}={value}", field.name()));
        }
    }

    /// An error value, shown with its causes as `anyhow`'s `{:#}` shows them.
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        let text = format!("{}={}", field.name(), chain(value));
        self.fields.push(' ');
        self.fields.push_str(&text);
        self.errors.push(text);
    }
}

/// A minimal HTTP/1.1 client for the server tests: sends `GET path` to `addr` and returns the
/// status code and the body. Enough for the example's plain-text answers.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let (status, body) = lifespan_test_support::http_get("127.0.0.1:3000".parse().unwrap(), "/").await?;
/// assert_eq!(status, 200);
/// # let _ = body;
/// # Ok(())
/// # }
/// ```
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, response.clone());
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    let (_, body) = response.split_once("\r\n\r\n").ok_or_else(invalid)?;
    Ok((status, body.to_owned()))
}

/// An error and its causes, as `anyhow` prints them with `{:#}`: what failed, then each cause,
/// separated by `": "`. For tests that check that each cause is shown once.
///
/// ```
/// let error = anyhow::anyhow!("connection refused").context("connecting to the database");
/// let error: Box<dyn std::error::Error + Send + Sync> = error.into();
/// assert_eq!(
///     lifespan_test_support::chain(&*error),
///     "connecting to the database: connection refused"
/// );
/// ```
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
