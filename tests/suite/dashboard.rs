//! The dashboard in a real browser: an app serves the page beside its status route and its
//! admin routes on loopback; headless Chromium loads it, and the test reads what the page shows
//! through the DevTools protocol (task names, states, runs' outcomes in words, no error text),
//! clicks "run now", "pause" and "resume" and sees each take effect, sees another replica's
//! tasks and context and that it went silent once stopped, and keeps a screenshot
//! (`target/dashboard.png`, or the path in `LIFESPAN_DASHBOARD_SCREENSHOT`).

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use lifespan_core::{
    control_routes, dashboard_handler, status_handler, App, InProcess, Shutdown, TaskOptions, Yield,
};
use lifespan_examples::{bounded, http_get};

use super::browser::{chromium, Browser};

/// The bound on each wait of the page.
const LIMIT: Duration = Duration::from_secs(30);

/// A replica `web-1` on `coordinator`, with a task that succeeds, one that fails with a secret
/// in its error, a long-running one and a context.
fn app(coordinator: &InProcess) -> App {
    let app = replica(coordinator, "web-1");
    let every = |ms| TaskOptions::new().every(Duration::from_millis(ms));
    app.register_task_with("digest", every(150), || async {})
        .unwrap();
    app.register_task_with("sync", every(200), || async {
        Err::<(), _>("upstream refused the token s3cr3t-t0ken")
    })
    .unwrap();
    app.register_task("listener", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    app.register_context("database", |lifespan: Yield| async move {
        lifespan.ready().await;
    })
    .unwrap();
    app
}

/// The text of the other replica's section, in the page.
const OTHER: &str =
    "(document.querySelector('section[data-instance=\"web-2\"]') || {innerText: ''}).innerText";

/// A replica `instance` on `coordinator` publishing its status every 200 ms.
fn replica(coordinator: &InProcess, instance: &str) -> App {
    App::builder()
        .empty()
        .coordinator(coordinator.clone())
        .instance(instance)
        .publish_status(Some(Duration::from_millis(200)))
        .build()
}

/// Another replica, `web-2`, with a task that succeeds, one that fails with a secret in its
/// error, and a context.
fn other(coordinator: &InProcess) -> App {
    let app = replica(coordinator, "web-2");
    let every = TaskOptions::new().every(Duration::from_millis(150));
    app.register_task_with("report", every.clone(), || async {})
        .unwrap();
    app.register_task_with("import", every, || async {
        Err::<(), _>("the import's key is 0th3r-s3cr3t")
    })
    .unwrap();
    app.register_context("cache", |lifespan: Yield| async move {
        lifespan.ready().await;
    })
    .unwrap();
    app
}

/// The other replica's section shows its tasks with their outcomes and its context.
async fn see_the_other_replica(browser: &mut Browser) {
    let section = OTHER;
    browser
        .until(
            "the other replica's tasks and context shown",
            &format!(
                "{section}.includes('report') && {section}.includes('succeeded') && {section}.includes('failed') \
                 && {section}.includes('cache running') && {section}.includes('heard')"
            ),
            LIMIT,
        )
        .await;
    let meta = browser
        .eval("document.getElementById('meta').innerText")
        .await;
    assert!(
        meta.as_str().unwrap().starts_with("replica web-1, "),
        "{meta}"
    );
    let text = browser.eval(section).await;
    assert!(
        !text.as_str().unwrap().contains("0th3r"),
        "error text shown: {text}"
    );
}

/// Once the other replica stopped, its section says it went silent.
async fn see_the_other_replica_go_silent(browser: &mut Browser, other: &App) {
    let section = OTHER;
    bounded("web-2's shutdown", LIMIT, other.shutdown()).await;
    browser
        .until(
            "the other replica shown silent once it stopped",
            &format!("{section}.includes('silent, last heard')"),
            LIMIT,
        )
        .await;
}

/// Serves `app` with the dashboard under `/lifespan` on loopback until `stop` resolves.
async fn serve(app: &App) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/lifespan", get(dashboard_handler))
        .route("/lifespan/", get(dashboard_handler))
        .route("/lifespan/status", get(status_handler))
        .nest("/lifespan", control_routes());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = app.clone();
    tokio::spawn(async move { app.serve_until(listener, router, stopped).await });
    // Bounded: the server answers once startup is complete.
    for _ in 0..600 {
        if matches!(http_get(addr, "/lifespan").await, Ok((200, _))) {
            return (addr, stop);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the dashboard was not served within 6 s");
}

/// Clicks the buttons of `digest`: "run now" shows a manual run, "pause" shows the pause and
/// who paused it, "resume" takes it away.
async fn click_run_now_pause_and_resume(browser: &mut Browser, app: &App) {
    let click = |action: &str| {
        format!("document.querySelector('tr[data-task=\"digest\"] button[data-action=\"{action}\"]').click()")
    };
    browser.eval(&click("trigger")).await;
    browser
        .until(
            "a manual run shown after \"run now\"",
            &format!("{}.includes('(1 manual)')", row("digest")),
            LIMIT,
        )
        .await;
    assert_eq!(app.status().task("digest").unwrap().manual_runs, 1);
    browser.eval(&click("pause")).await;
    browser
        .until(
            "the pause shown",
            &format!("{}.includes('paused by')", row("digest")),
            LIMIT,
        )
        .await;
    assert!(app.status().task("digest").unwrap().paused.is_some());
    browser.eval(&click("resume")).await;
    browser
        .until(
            "the pause gone after \"resume\"",
            &format!("!{}.includes('paused')", row("digest")),
            LIMIT,
        )
        .await;
    assert!(app.status().task("digest").unwrap().paused.is_none());
}

/// The text of the row of `task`, in the page.
fn row(task: &str) -> String {
    format!("(document.querySelector('tr[data-task=\"{task}\"]') || {{innerText: ''}}).innerText")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_every_task_and_context_in_a_real_browser() {
    let Some(binary) = chromium() else { return };
    let coordinator = InProcess::new();
    let app = app(&coordinator);
    let other = other(&coordinator);
    bounded("web-2's startup", LIMIT, other.start())
        .await
        .unwrap();
    let (addr, stop) = serve(&app).await;
    let mut browser = Browser::open(&binary, &format!("http://{addr}/lifespan"), (1280, 720)).await;
    browser
        .until(
            "every task shown, with the outcomes of their runs",
            &format!(
                "{} .includes('succeeded') && {} .includes('failed') && {} .includes('running')",
                row("digest"),
                row("sync"),
                row("listener")
            ),
            LIMIT,
        )
        .await;
    let sync = browser.eval(&row("sync")).await;
    let sync = sync.as_str().unwrap();
    assert!(sync.contains("has an error"), "{sync}");
    let text = browser.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        !text.contains("s3cr3t"),
        "the page shows error text:\n{text}"
    );
    assert!(text.contains("database"), "{text}");
    let buttons = browser
        .eval("document.querySelectorAll('button[data-action=\"trigger\"]').length")
        .await;
    assert_eq!(buttons, 3, "a run-now button per task");
    click_run_now_pause_and_resume(&mut browser, &app).await;
    see_the_other_replica(&mut browser).await;
    // It refreshes by itself.
    let before = browser.eval(&row("digest")).await;
    browser
        .until(
            "the page refreshed",
            &format!("{} !== {}", row("digest"), before),
            LIMIT,
        )
        .await;

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = std::env::var_os("LIFESPAN_DASHBOARD_SCREENSHOT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png"),
        std::path::PathBuf::from,
    );
    std::fs::write(&path, &png).unwrap();
    println!(
        "dashboard screenshot: {} bytes, {}",
        png.len(),
        path.display()
    );
    see_the_other_replica_go_silent(&mut browser, &other).await;
    drop(browser);
    stop.send(()).unwrap();
    bounded("the shutdown", LIMIT, async {
        while app.is_running() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
