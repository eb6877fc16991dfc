//! Readiness fails from the moment shutdown begins, while the server keeps serving for the
//! drain delay, then stops accepting; liveness answers throughout. A readiness check that fails
//! turns readiness `503`, and `?verbose` names it over HTTP, without its error.

use std::time::{Duration, Instant};

use axum::{routing::get, Router};
use lifespan_core::{liveness_handler, readiness_handler, App, Phase, Shutdown};
use lifespan_examples::{bounded, http_get};

const LIMIT: Duration = Duration::from_secs(60);
const DRAIN_DELAY: Duration = Duration::from_millis(400);

/// Asks `path` until `want` says yes, every 10 ms, for at most 10 s.
async fn poll_until(
    addr: std::net::SocketAddr,
    path: &str,
    want: impl Fn(&std::io::Result<(u16, String)>) -> bool,
) -> std::io::Result<(u16, String)> {
    for _ in 0..1000 {
        let answer = http_get(addr, path).await;
        if want(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{path} never answered as expected within 10 s");
}

#[tokio::test]
async fn readiness_fails_at_once_on_shutdown_while_the_server_serves_through_the_drain_delay() {
    let app = App::builder().empty().drain_delay(DRAIN_DELAY).build();
    app.register_task("worker", |shutdown: Shutdown| async move {
        shutdown.cancelled().await;
    })
    .unwrap();
    assert_eq!(
        readiness_handler(app.clone(), axum::extract::RawQuery(None))
            .await
            .0,
        503,
        "not started"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/ready", get(readiness_handler))
        .route("/live", get(liveness_handler))
        .route("/work", get(|| async { "done" }));
    let serving = tokio::spawn({
        let app = app.clone();
        async move {
            app.serve_until(listener, router, std::future::pending::<()>())
                .await
        }
    });
    let ready = poll_until(addr, "/ready", |a| matches!(a, Ok((200, _)))).await;
    assert_eq!(ready.unwrap().1, "ready");
    assert_eq!(app.phase(), Phase::Running);

    let asked = Instant::now();
    app.request_shutdown();
    let (status, _) = http_get(addr, "/ready").await.unwrap();
    assert_eq!(
        status, 503,
        "readiness fails from the moment shutdown begins"
    );
    let (status, body) = http_get(addr, "/work").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "done"), "still serving");
    let (status, _) = http_get(addr, "/live").await.unwrap();
    assert_eq!(status, 200);

    poll_until(addr, "/work", |a| a.is_err()).await.unwrap_err();
    assert!(
        asked.elapsed() >= DRAIN_DELAY,
        "stopped accepting after {:?}, before the drain delay",
        asked.elapsed()
    );
    let report = bounded("serving", LIMIT, serving).await.unwrap().unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(app.phase(), Phase::Stopped);
}

#[tokio::test]
async fn a_failing_readiness_check_is_named_over_http_and_its_error_is_not_served() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let app = App::builder().empty().build();
    let up = Arc::new(AtomicBool::new(true));
    let seen = up.clone();
    app.add_readiness_check("database", move || {
        let up = seen.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err(anyhow::anyhow!("postgres://admin:S3cret@db refused"))
            }
        }
    })
    .unwrap()
    .keep();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/ready", get(readiness_handler))
        .route("/live", get(liveness_handler));
    let serving = tokio::spawn({
        let app = app.clone();
        async move {
            app.serve_until(listener, router, std::future::pending::<()>())
                .await
        }
    });
    let ready = poll_until(addr, "/ready?verbose", |a| matches!(a, Ok((200, _)))).await;
    assert_eq!(
        ready.unwrap().1,
        "[+]phase ok\n[+]database ok\nreadyz check passed\n"
    );
    up.store(false, Ordering::SeqCst);
    let (status, body) = http_get(addr, "/ready?verbose").await.unwrap();
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "[+]phase ok\n[-]database failed\nreadyz check failed\n"
    );
    let (status, body) = http_get(addr, "/ready").await.unwrap();
    assert_eq!((status, body.as_str()), (503, "not ready"));
    let (status, body) = http_get(addr, "/live").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "alive"),
        "not ready is still live"
    );
    app.request_shutdown();
    let report = bounded("serving", LIMIT, serving).await.unwrap().unwrap();
    assert!(report.is_clean(), "{report}");
}
