//! The app's status as JSON over HTTP (feature `axum`), with the ledger of each once-per-point
//! task read from the coordinator: without error messages unless the route opts in to them.

use std::borrow::Cow;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::time::{timeout_at, Instant};

use crate::base::redact::redact;
use crate::inject::app_handle::App;
use crate::replicas::Pause;
use crate::report::ledger_error::LedgerError;
use crate::serving::fleet::{self, Fleet, FleetLine};
use crate::status::ledger::{LedgerRun, TaskLedger};
use crate::status::serialize::unix_millis;
use crate::status::snapshot::{LastRun, LeaseStatus, RunState, Status};

/// How many of each once-per-point task's latest runs the route shows.
const LEDGER_RUNS: usize = 10;

/// How long the route waits for the coordinator, for all the ledgers of one answer.
const LEDGER_PATIENCE: Duration = Duration::from_secs(2);

/// A handler that answers with the app's [status](App::status) as JSON, without error
/// messages: opt in to the route by routing to it, **behind your own authentication**.
///
/// The answer lists every task and context with its state (`"running"`, `"backing_off"`, ...),
/// restarts, whether it had an error, and milliseconds in that state; for a task, its runs (see
/// [`TaskStatus`](crate::TaskStatus)): how many ended, the last one's start, duration and
/// outcome, and when the next is due (`null` when none is planned). Outcomes are names, never
/// messages:
///
/// ```json
/// {"tasks":[{"name":"my_service::jobs::poll","display_name":"poller","state":"running",
///   "restarts":0,"has_error":false,"in_state_ms":1520,"runs":3,
///   "last_run":{"started_unix_ms":1767225600000,"duration_ms":212,"outcome":"succeeded"},
///   "next_run_unix_ms":1767225660000}],
///  "contexts":[{"name":"my_service::db::pool","display_name":null,"state":"running",
///   "has_error":false,"in_state_ms":1530}]}
/// ```
///
/// A once-per-point task also shows `"missed"`, the points of its schedule no replica started,
/// and `"ledger"`: the runs of its latest 10 points *on every replica*, read from the
/// coordinator ([`App::ledger`]) — who ran each (`"instance"`), which `"attempt"`, its
/// `"state"` (`"running"`, `"interrupted"`: its replica stopped renewing it, or `"finished"`),
/// `"outcome"` and `"duration_ms"` (so far, for a run not finished):
///
/// ```json
/// {"name":"my_service::jobs::digest","display_name":null,"state":"running","restarts":0,
///  "has_error":false,"in_state_ms":93000,"runs":1,"last_run":{...},"next_run_unix_ms":...,
///  "missed":2,
///  "ledger":{"has_error":false,"runs":[
///   {"number":29446261,"scheduled_unix_ms":1766775660000,"instance":"web-2:4181","attempt":1,
///    "token":12,"started_unix_ms":1766775660004,"duration_ms":212,"state":"finished",
///    "outcome":"succeeded"}]}}
/// ```
///
/// A task run by hand ([`App::trigger`]) shows `"manual_runs"`, how many of its runs were; a
/// paused task ([`App::pause`]) `"paused":{"by":"web-1:4181","since_unix_ms":...}`.
///
/// An app that [publishes its status](crate::AppBuilder::publish_status) (on by default with a
/// coordinator) shows the other replicas too: `"instance"`, its own name, and `"replicas"`,
/// what each other replica last published, read from the coordinator within 1 s (one
/// statement with `lifespan-postgres`) — its tasks and contexts as above, without ledgers or
/// error messages, how long ago it published (`"age_ms"`), and whether it is `"silent"`
/// (overdue by 3 periods: stopped, stuck or cut off). A replica that stopped is forgotten an
/// hour after it went silent.
///
/// ```json
/// {"tasks":[...],"contexts":[...],"instance":"web-1:4181",
///  "replicas":{"has_error":false,"replicas":[
///   {"instance":"web-2:977","published_unix_ms":1766775660000,"age_ms":1200,"silent":false,
///    "status":{"tasks":[{"name":"my_service::jobs::poll","state":"running",...}],
///              "contexts":[...]}}]}}
/// ```
///
/// The ledgers are read within 2 s in all, one call to the coordinator per once-per-point task
/// (one statement each with `lifespan-postgres`). A ledger that could not be read (the
/// coordinator failed or did not answer in time) shows `{"has_error":true,"runs":[]}` and
/// `"missed"` as this replica last heard it, and the rest of the status is served as usual;
/// `"ledger"` is `null` if the coordinator shows no ledger.
///
/// Error messages are left out because they carry secrets more often than not: a connection
/// string with its password, a header with its token, an internal host name. The library masks
/// the passwords of URLs (`postgres://admin:***@db/prod`), but cannot recognise every secret.
/// To see the messages, read [`App::status`] in your own code, or route to
/// [`status_handler_with_errors`] where only operators reach it.
///
/// Even without errors, the names and states of the tasks tell how the service works inside:
/// serve the route only to whom you trust, as a route of an admin router guarded by your
/// authentication layer (or bound to a private interface), never on the public router as is.
///
/// ```
/// use std::sync::Arc;
///
/// use axum::extract::{Request, State};
/// use axum::http::{header, StatusCode};
/// use axum::middleware::{self, Next};
/// use axum::response::{IntoResponse, Response};
/// use axum::{routing::get, Router};
///
/// /// Lets through only the requests that carry the operators' token.
/// async fn operators_only(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
///     let given = request.headers().get(header::AUTHORIZATION).map(|value| value.as_bytes());
///     if given == Some(format!("Bearer {token}").as_bytes()) {
///         next.run(request).await
///     } else {
///         StatusCode::UNAUTHORIZED.into_response()
///     }
/// }
///
/// let token: Arc<str> = "a long random secret, read from the environment".into();
/// let admin: Router = Router::new()
///     .route("/lifespan/status", get(lifespan_core::status_handler))
///     .route_layer(middleware::from_fn_with_state(token, operators_only));
/// let router: Router = Router::new().route("/", get(|| async { "hello" })).merge(admin);
/// # let _ = router;
/// ```
///
/// A task that failed shows `"has_error":true`, and nothing of its message:
///
/// ```
/// use lifespan_core::App;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::empty();
/// app.register_task("db", || async {
///     Err::<(), _>("connecting to postgres://admin:hunter2@db.internal/prod: refused")
/// })?;
/// app.start().await?;
/// app.shutdown().await;
/// let response = lifespan_core::status_handler(app).await;
/// let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
/// let json = std::str::from_utf8(&body)?;
/// assert!(json.contains(r#""name":"db","display_name":null,"state":"failed","restarts":0,"has_error":true,"#));
/// assert!(!json.contains("postgres"));
/// # Ok(())
/// # }
/// ```
pub async fn status_handler(app: App) -> Response {
    let status = app.status();
    let (ledgers, fleet) = tokio::join!(read_ledgers(&app, &status), fleet::read(&app));
    json(&app, &status, &ledgers, &fleet, Errors::Hidden)
}

/// [`status_handler`], with the message of each task's and context's last error as
/// `"last_error"` (`null` if it had none), the passwords of URLs masked, and for each ledger
/// that could not be read, why, as `"error"`. Route to it only where nobody but operators can
/// reach it: an error message may carry a secret that does not look like one.
///
/// ```json
/// {"tasks":[{"name":"my_service::db::migrate","display_name":null,"state":"failed",
///   "restarts":0,"has_error":true,
///   "last_error":"connecting to postgres://admin:***@db.internal/prod: refused",
///   "in_state_ms":1520}],
///  "contexts":[]}
/// ```
///
/// ```
/// use lifespan_core::App;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::empty();
/// app.register_task("db", || async {
///     Err::<(), _>("connecting to postgres://admin:hunter2@db.internal/prod: refused")
/// })?;
/// app.start().await?;
/// app.shutdown().await;
/// let response = lifespan_core::status_handler_with_errors(app).await;
/// let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
/// let json = std::str::from_utf8(&body)?;
/// assert!(json.contains(
///     r#""has_error":true,"last_error":"connecting to postgres://admin:***@db.internal/prod: refused","#
/// ));
/// # Ok(())
/// # }
/// ```
pub async fn status_handler_with_errors(app: App) -> Response {
    let status = app.status();
    let (ledgers, fleet) = tokio::join!(read_ledgers(&app, &status), fleet::read(&app));
    json(&app, &status, &ledgers, &fleet, Errors::Shown)
}

/// A once-per-point task's ledger, as the route read it.
enum Ledger {
    Read(TaskLedger),
    /// The coordinator shows none.
    NotShown,
    /// It could not be read: why, with its causes, masked.
    Failed(String),
}

/// The ledger of each once-per-point task of `status` (`None` for the other tasks), read
/// within [`LEDGER_PATIENCE`] in all.
async fn read_ledgers(app: &App, status: &Status) -> Vec<Option<Ledger>> {
    let deadline = Instant::now() + LEDGER_PATIENCE;
    let mut ledgers = Vec::with_capacity(status.tasks.len());
    for task in &status.tasks {
        if task.missed.is_none() {
            ledgers.push(None);
            continue;
        }
        let ledger = match timeout_at(deadline, app.ledger(&task.name, LEDGER_RUNS)).await {
            Ok(Ok(ledger)) => Ledger::Read(ledger),
            Ok(Err(LedgerError::NotShown { .. })) => Ledger::NotShown,
            Ok(Err(error)) => Ledger::Failed(redact(&format!("{error:#}")).into_owned()),
            Err(_) => Ledger::Failed(format!(
                "the ledger of lifespan task `{}` was not read within {LEDGER_PATIENCE:?}",
                task.name
            )),
        };
        if let Ledger::Failed(why) = &ledger {
            tracing::debug!(error = %why, "the status route shows a ledger it could not read");
        }
        ledgers.push(Some(ledger));
    }
    ledgers
}

/// Whether the JSON carries error messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Errors {
    Hidden,
    Shown,
}

/// The JSON answer: the single place that decides what the status route serves.
#[derive(Serialize)]
struct StatusJson<'a> {
    tasks: Vec<Line<'a>>,
    contexts: Vec<Line<'a>>,
    /// With `replicas` only: this replica's instance name.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    /// The other replicas, if this app publishes its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<FleetLine<'a>>,
}

/// One task's or context's line.
#[derive(Serialize)]
struct Line<'a> {
    name: &'a str,
    display_name: Option<&'static str>,
    state: RunState,
    /// Tasks only.
    #[serde(skip_serializing_if = "Option::is_none")]
    restarts: Option<u32>,
    has_error: bool,
    /// Only when errors are shown: then `null` or the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<Option<Cow<'a, str>>>,
    in_state_ms: u64,
    /// Singleton tasks only: who holds the lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease: Option<&'a LeaseStatus>,
    /// Tasks only: the runs that ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<u64>,
    /// Tasks only: `null` or the last run (its outcome's name, no message).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<Option<&'a LastRun>>,
    /// Tasks only: `null` or when the next run is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_run_unix_ms: Option<Option<u64>>,
    /// Once-per-point tasks only: the points missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<u64>,
    /// Once-per-point tasks only: `null` (the coordinator shows none) or the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    ledger: Option<Option<LedgerLine<'a>>>,
    /// Tasks that ran by hand only: how many such runs ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    manual_runs: Option<u64>,
    /// Paused tasks only: who paused it, since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    paused: Option<&'a Pause>,
}

/// A once-per-point task's ledger: its latest runs, or that it could not be read.
#[derive(Serialize)]
struct LedgerLine<'a> {
    has_error: bool,
    /// Only when errors are shown: then `null` or why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Option<&'a str>>,
    runs: &'a [LedgerRun],
}

impl<'a> LedgerLine<'a> {
    /// The line of `ledger`, read for a task whose status says it missed `missed` points;
    /// with it, the points missed to show.
    fn new(ledger: &'a Ledger, missed: u64, errors: Errors) -> (Option<Self>, u64) {
        let error = |why| (errors == Errors::Shown).then_some(why);
        match ledger {
            Ledger::Read(read) => {
                let line = LedgerLine {
                    has_error: false,
                    error: error(None),
                    runs: &read.runs,
                };
                (Some(line), read.missed)
            }
            Ledger::NotShown => (None, missed),
            Ledger::Failed(why) => {
                let line = LedgerLine {
                    has_error: true,
                    error: error(Some(why.as_str())),
                    runs: &[],
                };
                (Some(line), missed)
            }
        }
    }
}

impl<'a> Line<'a> {
    fn new(
        name: &'a str,
        display_name: Option<&'static str>,
        state: RunState,
        error: Option<&'a str>,
        in_state: std::time::Duration,
        errors: Errors,
    ) -> Self {
        Line {
            name,
            display_name,
            state,
            restarts: None,
            has_error: error.is_some(),
            // Masked here too: the messages of failed setups are recorded before masking.
            last_error: (errors == Errors::Shown).then(|| error.map(redact)),
            in_state_ms: u64::try_from(in_state.as_millis()).unwrap_or(u64::MAX),
            lease: None,
            runs: None,
            last_run: None,
            next_run_unix_ms: None,
            missed: None,
            ledger: None,
            manual_runs: None,
            paused: None,
        }
    }
}

/// The answer: `status` of `app`, with `ledgers` (one per task, in order) and the other
/// replicas of `fleet`.
fn json(
    app: &App,
    status: &Status,
    ledgers: &[Option<Ledger>],
    fleet: &Fleet,
    errors: Errors,
) -> Response {
    let tasks = status
        .tasks
        .iter()
        .zip(ledgers)
        .map(|(task, ledger)| {
            let (ledger, missed) = match (ledger, task.missed) {
                (Some(ledger), Some(missed)) => {
                    let (line, missed) = LedgerLine::new(ledger, missed, errors);
                    (Some(line), Some(missed))
                }
                _ => (None, task.missed),
            };
            Line {
                restarts: Some(task.restarts),
                lease: task.lease.as_ref(),
                runs: Some(task.runs),
                last_run: Some(task.last_run.as_ref()),
                next_run_unix_ms: Some(task.next_run.map(unix_millis)),
                missed,
                ledger,
                manual_runs: Some(task.manual_runs).filter(|&runs| runs > 0),
                paused: task.paused.as_ref(),
                ..Line::new(
                    &task.name,
                    task.display_name,
                    task.state,
                    task.last_error.as_deref(),
                    task.in_state,
                    errors,
                )
            }
        })
        .collect();
    let contexts = status
        .contexts
        .iter()
        .map(|context| {
            Line::new(
                &context.name,
                context.display_name,
                context.state,
                context.last_error.as_deref(),
                context.in_state,
                errors,
            )
        })
        .collect();
    let instance = app.instance();
    let replicas = FleetLine::new(fleet, instance, errors == Errors::Shown);
    axum::Json(StatusJson {
        tasks,
        contexts,
        instance: replicas.is_some().then_some(instance),
        replicas,
    })
    .into_response()
}
