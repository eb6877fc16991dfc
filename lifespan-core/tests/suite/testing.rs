//! A task or context function tested on its own, with injected values made by hand; a context
//! that closes at cleanup what it handed out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lifespan_core::{App, ContextOutcome, Shutdown, State, Yield};

/// Bounds every wait: a bug fails here instead of hanging the suite.
const LIMIT: Duration = Duration::from_secs(3600);

async fn worker(shutdown: Shutdown, rounds: Arc<std::sync::atomic::AtomicU32>) {
    loop {
        let tick = tokio::time::sleep(Duration::from_secs(1));
        if shutdown.run_until_cancelled(tick).await.is_none() {
            return;
        }
        rounds.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_function_runs_on_its_own_until_the_test_triggers_shutdown() {
    let (shutdown, trigger) = Shutdown::pair();
    let rounds = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let task = tokio::spawn(worker(shutdown.clone(), rounds.clone()));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!shutdown.is_cancelled());
    trigger.trigger();
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(rounds.load(Ordering::SeqCst), 3);
}

struct Pool {
    closed: Arc<AtomicBool>,
}

impl Pool {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

async fn pool(closed: Arc<AtomicBool>, lifespan: Yield<Pool>) -> anyhow::Result<()> {
    let pool = lifespan.ready_sharing(Pool { closed }).await;
    pool.close();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_context_function_is_driven_through_setup_and_cleanup_by_the_test() {
    let closed = Arc::new(AtomicBool::new(false));
    let (lifespan, mut driver) = Yield::<Pool>::pair();
    let context = tokio::spawn(pool(closed.clone(), lifespan));
    assert!(tokio::time::timeout(LIMIT, driver.ready()).await.unwrap());
    // Asking twice gives the same answer.
    assert!(driver.ready().await);
    let state: State<Pool> = driver.state().expect("the pool was handed over");
    assert!(
        !state.closed.load(Ordering::SeqCst),
        "not closed before cleanup"
    );
    driver.resume();
    tokio::time::timeout(LIMIT, context)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(closed.load(Ordering::SeqCst), "closed at cleanup");
}

#[tokio::test(start_paused = true)]
async fn a_driver_says_when_a_context_returned_without_its_yield_point() {
    let (lifespan, mut driver) = Yield::<Pool>::pair();
    let context = tokio::spawn(async move {
        drop(lifespan);
        Err::<(), _>("could not connect")
    });
    assert!(!tokio::time::timeout(LIMIT, driver.ready()).await.unwrap());
    assert!(driver.state().is_none());
    assert!(context.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn in_an_app_the_context_closes_at_cleanup_what_it_handed_out_after_the_tasks_used_it() {
    let closed = Arc::new(AtomicBool::new(false));
    let app = App::empty();
    let in_context = closed.clone();
    app.register_context("pool", move |lifespan: Yield<Pool>| {
        pool(in_context.clone(), lifespan)
    })
    .unwrap();
    let used_open = Arc::new(AtomicBool::new(false));
    let seen = used_open.clone();
    app.register_task("user", move |pool: State<Pool>, shutdown: Shutdown| {
        let seen = seen.clone();
        async move {
            shutdown.cancelled().await;
            seen.store(!pool.closed.load(Ordering::SeqCst), Ordering::SeqCst);
        }
    })
    .unwrap();
    tokio::time::timeout(LIMIT, app.start())
        .await
        .unwrap()
        .unwrap();
    let report = tokio::time::timeout(LIMIT, app.shutdown()).await.unwrap();
    assert_eq!(report.context("pool"), Some(&ContextOutcome::CleanedUp));
    assert!(
        used_open.load(Ordering::SeqCst),
        "the task saw the pool open"
    );
    assert!(closed.load(Ordering::SeqCst), "the cleanup closed it");
}
