//! Serving while random contexts and tasks run (feature `axum`): `App::serve_until` serves a
//! router on a loopback listener, clients send a bounded number of requests (some to handlers
//! slower than the drain timeout), and shutdown is requested at a random moment. From the shared
//! log, each case checks that
//!
//! 1. no handler runs before every context is set up (none at all if startup did not complete);
//! 2. every request that reached its handler, in flight at shutdown or not, finished or was
//!    dropped before any task was stopped (a run that ended seeing the shutdown signal, or was
//!    dropped) and before any cleanup began;
//! 3. a dropped request was dropped no sooner than the drain timeout after the shutdown request,
//!    and its client was answered 503; a request that finished was answered 200;
//! 4. every run of a task that began ended or was dropped before the first cleanup began;
//! 5. once `serve_until` returned, nothing answers on the port.
//!
//! Loopback networking needs real time: durations are tens of milliseconds, every wait is bounded
//! and a case takes about a quarter of a second, so 30 cases run by default (three for every
//! hundred of `PROPTEST_CASES`, at least 10): a few seconds. The checks compare orders in the log
//! and lower bounds of timers, never a time that depends on the machine's speed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use lifespan_test_support::http_get;
use proptest::prelude::*;
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};

use super::build::build_with;
use super::case::*;
use super::check::render;
use super::loopback;
use super::record::*;

/// A request: sent `sent_after` the case began, to a fast or a slow handler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestCase {
    pub(crate) sent_after: Ms,
    pub(crate) slow: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct ServeCase {
    /// The contexts and tasks, the grace period and the cleanup timeout (its driver is unused).
    pub(crate) app: Case,
    /// Off the 10 ms grid, as the grace period.
    pub(crate) drain_timeout: Ms,
    pub(crate) requests: Vec<RequestCase>,
    /// Shutdown is requested `stop_extra` after this many handlers began (at most all of them).
    pub(crate) stop_after_begun: usize,
    pub(crate) stop_extra: Ms,
}

/// How long a fast handler takes.
const FAST: Duration = Duration::from_millis(10);
/// How long a slow handler takes: longer than any drain timeout.
const SLOW: Duration = Duration::from_millis(150);

pub(crate) fn serve_case() -> impl Strategy<Value = ServeCase> {
    let grace = prop_oneof![Just(5u64), Just(25), Just(55)].prop_map(Ms);
    let cleanup_timeout = prop_oneof![Just(15u64), Just(25), Just(35)].prop_map(Ms);
    let drain_timeout = prop_oneof![Just(25u64), Just(45)].prop_map(Ms);
    let request = (tens(0..=8), any::<bool>())
        .prop_map(|(sent_after, slow)| RequestCase { sent_after, slow });
    (
        proptest::collection::vec(context(), 0..=3),
        proptest::collection::vec(task(), 0..=4),
        (grace, cleanup_timeout, drain_timeout),
        proptest::collection::vec(request, 1..=6),
        (0..=6usize, tens(0..=6), proptest::option::of(0..3usize)),
    )
        .prop_map(
            |(
                mut contexts,
                mut tasks,
                (grace, cleanup_timeout, drain_timeout),
                requests,
                (stop_after_begun, stop_extra, provider),
            )| {
                // One run: nothing is registered late, and no task is critical.
                let driver = Driver::Manual { runs: Vec::new() };
                let shape = shape(&mut contexts, &mut tasks, &driver, (0, 0, provider));
                let stop_after_begun = stop_after_begun.min(requests.len());
                ServeCase {
                    app: Case {
                        contexts,
                        tasks,
                        late_contexts: shape.late_contexts,
                        late_tasks: shape.late_tasks,
                        provider: shape.provider,
                        grace,
                        cleanup_timeout,
                        blocking_threshold: None,
                        driver,
                    },
                    drain_timeout,
                    requests,
                    stop_after_begun,
                    stop_extra,
                }
            },
        )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Request `id`'s handler began.
    Began(usize),
    /// Its handler returned.
    Ended(usize),
    /// Its handler was dropped while it ran.
    Dropped(usize),
    /// The stop future completed: shutdown begins.
    Stop,
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    /// How long the app's log was then: its records before this index came first.
    pos: usize,
    at: Instant,
    step: Step,
}

/// What the handlers and the stop future did, placed in the order of the app's log.
pub(crate) struct Marks {
    log: Arc<Log>,
    marks: Mutex<Vec<Mark>>,
    began: watch::Sender<usize>,
}

impl Marks {
    pub(crate) fn new(log: Arc<Log>) -> Self {
        Marks {
            log,
            marks: Mutex::new(Vec::new()),
            began: watch::channel(0).0,
        }
    }

    fn mark(&self, step: Step) {
        // Both locks are taken in this order only; the log's length is read under ours.
        let mut marks = self.marks.lock().unwrap();
        marks.push(Mark {
            pos: self.log.len(),
            at: Instant::now(),
            step,
        });
        if matches!(step, Step::Began(_)) {
            self.began.send_modify(|began| *began += 1);
        }
    }

    fn marks(&self) -> Vec<Mark> {
        self.marks.lock().unwrap().clone()
    }

    /// The requests whose handler began.
    pub(crate) fn began_ids(&self) -> Vec<usize> {
        self.marks()
            .iter()
            .filter_map(|mark| match mark.step {
                Step::Began(id) => Some(id),
                _ => None,
            })
            .collect()
    }
}

/// Marks its handler dropped unless it returned.
struct Handling {
    marks: Arc<Marks>,
    id: usize,
    ended: bool,
}

impl Drop for Handling {
    fn drop(&mut self) {
        let step = if self.ended {
            Step::Ended(self.id)
        } else {
            Step::Dropped(self.id)
        };
        self.marks.mark(step);
    }
}

async fn handle(marks: Arc<Marks>, id: usize, takes: Duration) -> &'static str {
    marks.mark(Step::Began(id));
    let mut handling = Handling {
        marks,
        id,
        ended: false,
    };
    sleep(takes).await;
    handling.ended = true;
    "done"
}

pub(crate) fn router(marks: &Arc<Marks>) -> Router {
    let (fast, slow) = (marks.clone(), marks.clone());
    Router::new()
        .route(
            "/fast/{id}",
            get(move |Path(id): Path<usize>| handle(fast.clone(), id, FAST)),
        )
        .route(
            "/slow/{id}",
            get(move |Path(id): Path<usize>| handle(slow.clone(), id, SLOW)),
        )
}

/// Runs `case` on a fresh current-thread runtime with real time; returns the situations it
/// went through.
pub(crate) fn run_serving(case: &ServeCase) -> Result<BTreeSet<&'static str>, String> {
    loopback::on_real_time(|| async {
        let log = Arc::new(Log::default());
        let marks = Arc::new(Marks::new(log.clone()));
        let app = build_with(&case.app, &log, |builder| {
            builder.drain_timeout(case.drain_timeout.get())
        });
        let (listener, addr, origin, clients) = loopback::listen_and_send(&case.requests).await?;
        let stop = {
            let marks = marks.clone();
            let (wanted, extra) = (case.stop_after_begun, case.stop_extra.get());
            async move {
                let mut began = marks.began.subscribe();
                // Every request is sent within 80 ms: if they never reach a handler (startup
                // failed), the wait ends with the bound.
                let _ = timeout(Duration::from_secs(5), began.wait_for(|n| *n >= wanted)).await;
                if !extra.is_zero() {
                    sleep(extra).await;
                }
                marks.mark(Step::Stop);
            }
        };
        let router = router(&marks);
        let served = timeout(
            Duration::from_secs(20),
            app.serve_until(listener, router, stop),
        )
        .await
        .map_err(|_| {
            format!(
                "serve_until did not return:\n{}",
                render(&log.records(), origin)
            )
        })?;
        let answers = loopback::answers(clients).await?;
        let after = timeout(Duration::from_secs(2), http_get(addr, "/fast/0")).await;
        let records = log.records();
        let marks = marks.marks();
        let context = || {
            format!(
                "\nserve_until: {served:?}\nanswers: {answers:?}\nafter the run: {after:?}\nmarks:\n{}\nlog:\n{}",
                render_marks(&marks, origin),
                render(&records, origin)
            )
        };
        ensure!(
            matches!(after, Ok(Err(_))),
            "something answers on {addr} after the run{}",
            context()
        );
        check_serving(case, &records, &marks, &answers).map_err(|violation| violation + &context())
    })
}

fn render_marks(marks: &[Mark], origin: Instant) -> String {
    marks
        .iter()
        .map(|mark| {
            format!(
                "  {:>5.1} ms  (after record {:>3})  {:?}\n",
                (mark.at - origin).as_secs_f64() * 1000.0,
                mark.pos,
                mark.step
            )
        })
        .collect()
}

fn check_serving(
    case: &ServeCase,
    records: &[Record],
    marks: &[Mark],
    answers: &[loopback::Answer],
) -> Result<BTreeSet<&'static str>, String> {
    let mut situations = BTreeSet::new();
    let began: Vec<(usize, &Mark)> = marks
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m.step, Step::Began(_)))
        .collect();
    // 1. Handlers run only once every context is set up.
    check_handlers_after_setup(case, records, &began, &mut situations)?;
    // 2. and 3., for each request whose handler began.
    let ends = EndsOfServing::of(records, marks);
    for &(began_index, mark) in &began {
        check_request(
            case,
            &ends,
            marks,
            answers,
            (began_index, mark),
            &mut situations,
        )?;
    }
    // A request whose handler never ran was not answered as if it had.
    for (id, answer) in answers.iter().enumerate() {
        if !began.iter().any(|(_, m)| m.step == Step::Began(id)) {
            ensure!(
                !matches!(answer, Some(Ok((200, _)))),
                "request {id} answered 200 without its handler"
            );
        }
    }
    // 4. Every run of a task ended or was dropped before the first cleanup began.
    check_tasks_before_cleanup(records, case.app.tasks.len())?;
    Ok(situations)
}

/// The position of the first record where `wanted` holds.
fn first(records: &[Record], wanted: impl Fn(&Event) -> bool) -> Option<usize> {
    records.iter().position(|r| wanted(&r.event))
}

/// No handler began before the last context was set up; if one never was, none began.
fn check_handlers_after_setup(
    case: &ServeCase,
    records: &[Record],
    began: &[(usize, &Mark)],
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let set_up: Option<Vec<usize>> = (0..case.app.contexts.len())
        .map(|c| first(records, |e| *e == Event::SetupDone(c)))
        .collect();
    match set_up {
        None => {
            ensure!(
                began.is_empty(),
                "a handler ran although a context never completed its setup"
            );
            situations.insert("startup did not complete");
        }
        Some(set_up) => {
            let last = set_up.into_iter().max().map_or(0, |i| i + 1);
            for (_, mark) in began {
                ensure!(
                    mark.pos >= last,
                    "{:?} before every context was set up",
                    mark.step
                );
            }
        }
    }
    Ok(())
}

/// Where the serving of the requests had to be over: shutdown's start among the marks, and the
/// records of the first task stopped and the first cleanup.
struct EndsOfServing<'a> {
    stop_index: Option<usize>,
    stop: Option<&'a Mark>,
    task_stopped: Option<usize>,
    cleanup: Option<usize>,
}

impl<'a> EndsOfServing<'a> {
    fn of(records: &[Record], marks: &'a [Mark]) -> Self {
        let stop_index = marks.iter().position(|m| m.step == Step::Stop);
        EndsOfServing {
            stop_index,
            stop: stop_index.map(|i| &marks[i]),
            task_stopped: first(records, |e| {
                matches!(
                    e,
                    Event::RunEnded { stopping: true, .. } | Event::RunDropped(_)
                )
            }),
            cleanup: first(records, |e| matches!(e, Event::CleanupBegan(_))),
        }
    }
}

/// The handler that began at `began` ended or was dropped before any task stopped or any cleanup
/// began (2.); it was dropped only after the drain timeout, and answered as it ended (3.).
fn check_request(
    case: &ServeCase,
    ends: &EndsOfServing<'_>,
    marks: &[Mark],
    answers: &[loopback::Answer],
    (began_index, mark): (usize, &Mark),
    situations: &mut BTreeSet<&'static str>,
) -> Result<(), String> {
    let Step::Began(id) = mark.step else {
        unreachable!()
    };
    let end_index = marks
        .iter()
        .position(|m| m.step == Step::Ended(id) || m.step == Step::Dropped(id))
        .ok_or_else(|| format!("request {id}'s handler neither ended nor was dropped"))?;
    let end = &marks[end_index];
    for (what, at) in [
        ("a task stopped", ends.task_stopped),
        ("a cleanup began", ends.cleanup),
    ] {
        if let Some(at) = at {
            ensure!(
                end.pos <= at,
                "{what} (record {at}) before request {id} was done ({:?})",
                end.step
            );
        }
    }
    let in_flight = ends
        .stop_index
        .is_some_and(|stop| began_index < stop && stop < end_index);
    match end.step {
        Step::Dropped(_) => {
            let stop = ends
                .stop
                .ok_or_else(|| format!("request {id} dropped with no shutdown"))?;
            ensure!(
                end.at >= stop.at + case.drain_timeout.get(),
                "request {id} dropped {:?} after shutdown began, before the drain timeout",
                end.at - stop.at
            );
            ensure!(
                matches!(answers[id], Some(Ok((503, _)))),
                "request {id} was dropped but answered {:?}",
                answers[id]
            );
            situations.insert("a request in flight answered 503 after the drain timeout");
        }
        _ => {
            ensure!(
                matches!(&answers[id], Some(Ok((200, body))) if body == "done"),
                "request {id} ended but was answered {:?}",
                answers[id]
            );
            situations.insert(if in_flight {
                "a request in flight finished during the drain"
            } else {
                "a request finished"
            });
        }
    }
    Ok(())
}

/// Every run of each of `tasks` tasks that began before the first cleanup ended or was dropped
/// before it.
pub(crate) fn check_tasks_before_cleanup(records: &[Record], tasks: usize) -> Result<(), String> {
    let Some(cleanup) = records
        .iter()
        .position(|r| matches!(r.event, Event::CleanupBegan(_)))
    else {
        return Ok(());
    };
    let before = &records[..cleanup];
    for task in 0..tasks {
        let runs = before
            .iter()
            .filter(|r| r.event == Event::RunBegan(task))
            .count();
        let ends = before
            .iter()
            .filter(|r| {
                matches!(r.event, Event::RunEnded { task: t, .. } | Event::RunDropped(t) if t == task)
            })
            .count();
        ensure!(
            runs == ends,
            "task {task}: {runs} runs began but {ends} ended before the first cleanup"
        );
    }
    Ok(())
}

/// Three cases for every hundred of the current-thread property (30 by default), at least 10.
fn serving_config() -> ProptestConfig {
    super::scaled_config(3, 100)
}

/// On its own runner: the `proptest!` macro would let `PROPTEST_CASES` set its case count.
#[test]
fn serving_random_apps_drains_before_tasks_stop() {
    super::run_on_own_runner(serving_config(), serve_case(), |case| {
        run_serving(case).map(drop)
    });
}

/// The two ends of a drain, which random cases reach only by chance: a slow request in flight
/// at shutdown is dropped and answered 503 once the drain timeout is over; a fast one finishes.
#[test]
fn serving_drops_a_slow_request_after_the_drain_timeout_and_finishes_a_fast_one() {
    for (slow, expected) in [
        (
            true,
            "a request in flight answered 503 after the drain timeout",
        ),
        (false, "a request in flight finished during the drain"),
    ] {
        let case = ServeCase {
            app: Case::bare(),
            drain_timeout: Ms(25),
            requests: vec![RequestCase {
                sent_after: Ms(0),
                slow,
            }],
            stop_after_begun: 1,
            stop_extra: Ms(0),
        };
        let situations = run_serving(&case).unwrap_or_else(|violation| panic!("{violation}"));
        assert!(
            situations.contains(expected),
            "{case:#?}\nreached {situations:?}, not {expected:?}"
        );
    }
}
