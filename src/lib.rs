//! Support code shared by the examples and the integration tests of the lifespan workspace.
#![deny(missing_docs)]

use std::sync::{Arc, Mutex};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// An ordered log of what tasks and contexts did, for tests to compare against.
///
/// It can be a `static`, so that a `#[lifespan_task]` can receive it as a keyword argument.
///
/// ```
/// static EVENTS: lifespan_examples::Events = lifespan_examples::Events::new();
/// EVENTS.push("setup a");
/// EVENTS.push("cleanup a");
/// assert_eq!(EVENTS.take(), ["setup a", "cleanup a"]);
/// ```
#[derive(Default, Debug)]
pub struct Events {
    log: Mutex<Vec<String>>,
    pushed: tokio::sync::Notify,
}

impl Events {
    /// An empty log.
    pub const fn new() -> Self {
        Events {
            log: Mutex::new(Vec::new()),
            pushed: tokio::sync::Notify::const_new(),
        }
    }

    /// Records one event.
    pub fn push(&self, event: impl Into<String>) {
        self.log.lock().unwrap().push(event.into());
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

    /// The events so far, in order, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// The events so far, in order.
    pub fn snapshot(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Log lines captured from `tracing`, for tests that check what the library logs.
///
/// ```
/// let logs = lifespan_examples::CapturedLogs::default();
/// tracing::subscriber::with_default(logs.subscriber(), || tracing::warn!(task = "t", "hello"));
/// assert!(logs.lines().iter().any(|line| line == "WARN hello task=t"));
/// ```
#[derive(Clone, Default, Debug)]
pub struct CapturedLogs(Arc<Mutex<Vec<String>>>);

impl CapturedLogs {
    /// A subscriber that records every event as `LEVEL message field=value ...`.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(CaptureLayer(self.clone()))
    }

    /// The lines recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
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
        (self.0).0.lock().unwrap().push(line);
    }
}

#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
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
}

/// A minimal HTTP/1.1 client for the server tests: sends `GET path` to `addr` and returns the
/// status code and the body. Enough for the example's plain-text answers.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let (status, body) = lifespan_examples::http_get("127.0.0.1:3000".parse().unwrap(), "/").await?;
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
