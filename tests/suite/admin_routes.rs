//! The admin routes that operate tasks by hand, over loopback, mounted behind a token check as
//! the README shows: refused without the token; with it, a trigger, a pause, a resume, and each
//! refusal's status and short text, which names the task and never carries the internal text of
//! a coordinator's error.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use lifespan_core::{
    Acquired, App, Coordinator, CoordinatorError, CoordinatorFuture, InProcess, LeaseRequest,
    Pause, PointRun, RunClaim, RunOutcome, RunRequest, Shutdown, TaskOptions, Term,
};
use lifespan_examples::bounded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "operators-only";

/// The in-process coordinator, whose pauses fail with an error that names a host and carries
/// a password: what a database's error may say.
#[derive(Clone, Default)]
struct FailingPauses(InProcess);

impl Coordinator for FailingPauses {
    fn describe(&self) -> String {
        "PostgreSQL at db.internal:5432/app".into()
    }
    fn prepare(&self) -> CoordinatorFuture<'_, ()> {
        self.0.prepare()
    }
    fn acquire<'a>(&'a self, request: &'a LeaseRequest) -> CoordinatorFuture<'a, Acquired> {
        self.0.acquire(request)
    }
    fn renew<'a>(&'a self, term: &'a Term, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.0.renew(term, lease)
    }
    fn release<'a>(&'a self, term: &'a Term) -> CoordinatorFuture<'a, ()> {
        self.0.release(term)
    }
    fn now(&self) -> CoordinatorFuture<'_, SystemTime> {
        self.0.now()
    }
    fn claim_run<'a>(&'a self, request: &'a RunRequest) -> CoordinatorFuture<'a, RunClaim> {
        self.0.claim_run(request)
    }
    fn renew_run<'a>(&'a self, run: &'a PointRun, lease: Duration) -> CoordinatorFuture<'a, bool> {
        self.0.renew_run(run, lease)
    }
    fn finish_run<'a>(
        &'a self,
        run: &'a PointRun,
        outcome: RunOutcome,
    ) -> CoordinatorFuture<'a, bool> {
        self.0.finish_run(run, outcome)
    }
    fn pause<'a>(&'a self, task: &'a str, _by: &'a str) -> CoordinatorFuture<'a, Option<Pause>> {
        Box::pin(async move {
            Err(CoordinatorError::new(
                format!("pausing `{task}`"),
                std::io::Error::other("FATAL: password authentication failed: hunter2"),
            ))
        })
    }
}

/// Lets through only the requests that carry the operators' token.
async fn operators_only(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION);
    if given.is_some_and(|given| given.as_bytes() == format!("Bearer {token}").as_bytes()) {
        next.run(request).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// `POST path` to `addr`, with the operators' token if `token`: the status code and the body.
async fn post(addr: std::net::SocketAddr, path: &str, token: bool) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let authorization = if token {
            format!("Authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = bounded(path, LIMIT, exchange).await;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// An app (instance `web-1`) with a periodic task `sweep` (every hour), a plain task
/// `listener`, and a singleton `leader` on a coordinator whose pauses fail.
fn app() -> App {
    let app = App::builder()
        .empty()
        .coordinator(FailingPauses::default())
        .instance("web-1")
        .build();
    let hourly = TaskOptions::new().every(Duration::from_secs(3600));
    app.register_task_with("sweep", hourly, || async {})
        .unwrap();
    let forever = |shutdown: Shutdown| async move { shutdown.cancelled().await };
    app.register_task("listener", forever).unwrap();
    let leader = TaskOptions::new().singleton(true);
    app.register_task_with("leader", leader, forever).unwrap();
    app
}

/// Serves `app` with the control routes under `/lifespan`, behind the token, on a loopback
/// port: its address, and the serving task; once the app runs.
async fn serve(
    app: &App,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<lifespan_core::Report, lifespan_core::RunError>>,
) {
    let token: Arc<str> = TOKEN.into();
    let router: Router = Router::new()
        .nest("/lifespan", lifespan_core::control_routes())
        .route_layer(middleware::from_fn_with_state(token, operators_only));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let app = app.clone();
        async move {
            app.serve_until(listener, router, std::future::pending::<()>())
                .await
        }
    });
    bounded("the start", LIMIT, async {
        while !app.is_running() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    (addr, serving)
}

/// `POST /lifespan/tasks/{name}/{action}` with the token answers `code` and `text`.
async fn answers(addr: std::net::SocketAddr, name: &str, action: &str, code: u16, text: &str) {
    let path = format!("/lifespan/tasks/{name}/{action}");
    let (given, body) = post(addr, &path, true).await;
    assert_eq!((given, body.as_str()), (code, text), "{path}");
}

#[tokio::test]
async fn the_admin_routes_operate_tasks_behind_the_token_and_answer_short_texts() {
    let app = app();
    let (addr, serving) = serve(&app).await;
    assert_eq!(
        post(addr, "/lifespan/tasks/sweep/pause", false).await.0,
        401
    );
    assert_eq!(app.status().task("sweep").unwrap().paused, None);

    let asked = "lifespan task `sweep`: a manual run is asked for";
    answers(addr, "sweep", "trigger", 202, asked).await;
    bounded("the manual run", LIMIT, async {
        while app.status().task("sweep").unwrap().manual_runs < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let paused = "lifespan task `sweep` is paused by web-1";
    answers(addr, "sweep", "pause", 200, paused).await;
    let refused = "lifespan task `sweep` cannot be triggered: it is paused (by `web-1`)";
    answers(addr, "sweep", "trigger", 409, refused).await;
    answers(
        addr,
        "sweep",
        "resume",
        200,
        "lifespan task `sweep` is resumed",
    )
    .await;
    answers(
        addr,
        "sweep",
        "resume",
        200,
        "lifespan task `sweep` was not paused",
    )
    .await;

    let unknown = "lifespan task `nothing` cannot be triggered: the app has no task of that name";
    answers(addr, "nothing", "trigger", 404, unknown).await;
    let plain = "lifespan task `listener` cannot be paused: it is neither periodic (it has neither `every` nor `cron`) nor a singleton";
    answers(addr, "listener", "pause", 422, plain).await;
    // The coordinator's error stays in the log: neither its cause nor its host is served.
    let failed = "lifespan task `leader` could not be operated (pause): the coordinator failed";
    answers(addr, "leader", "pause", 503, failed).await;

    app.request_shutdown();
    let report = bounded("the shutdown", LIMIT, serving)
        .await
        .unwrap()
        .unwrap();
    assert!(report.is_clean(), "{report}");
}
