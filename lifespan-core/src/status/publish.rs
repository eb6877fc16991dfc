//! This replica's status, published through the coordinator every few seconds (see
//! `AppBuilder::publish_status`), so that the status route and the dashboard of every replica
//! show the whole fleet: its tasks and contexts as the status route serves them, without error
//! messages, which the other replicas serve.

use std::sync::Arc;
use std::time::Duration;

use crate::status::board::Board;
use crate::status::snapshot::Status;

/// How many periods a published status is kept as current: past them, its replica is silent.
const PERIODS_KEPT: u32 = 3;

/// Starts publishing the status of `board`'s start, if the app publishes it, until its shutdown
/// begins.
pub(crate) fn start(board: &Arc<Board>) {
    if let Some(every) = board.coordination.publish_every {
        let board = board.clone();
        drop(crate::base::spawn::spawn(
            "lifespan status publisher",
            publish_every(board, every),
        ));
    }
}

/// Publishes the status of `board` every `every`, until its shutdown begins or the coordinator
/// says it keeps no statuses.
async fn publish_every(board: Arc<Board>, every: Duration) {
    let coordination = &board.coordination;
    let ttl = every.saturating_mul(PERIODS_KEPT);
    let mut failing = false;
    loop {
        let status = published(&board.snapshot());
        let publish = coordination
            .coordinator
            .publish_status(&coordination.instance, &status, ttl);
        let answer = tokio::select! {
            biased;
            () = board.shutdown.cancelled() => return,
            answer = tokio::time::timeout(every, publish) => answer,
        };
        match answer {
            Ok(Ok(true)) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("this replica's status is published again");
                }
            }
            Ok(Ok(false)) => {
                tracing::debug!(
                    "the coordinator keeps no statuses: this replica's is not published"
                );
                return;
            }
            Ok(Err(error)) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(
                        error = %format_args!("{error:#}"),
                        "could not publish this replica's status: trying again every {every:?}"
                    );
                }
            }
            Err(_) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(
                        "the coordinator did not take this replica's status within {every:?}: trying again"
                    );
                }
            }
        }
        tokio::select! {
            biased;
            () = board.shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// `status` as JSON, each error message replaced by whether there was one (`has_error`), as
/// the status route serves it: the other replicas serve it.
fn published(status: &Status) -> String {
    let Ok(mut json) = serde_json::to_value(status) else {
        return String::from("{}");
    };
    for part in ["tasks", "contexts"] {
        let Some(lines) = json.get_mut(part).and_then(|lines| lines.as_array_mut()) else {
            continue;
        };
        for line in lines.iter_mut().filter_map(|line| line.as_object_mut()) {
            let error = line.remove("last_error");
            let has_error = error.is_some_and(|error| !error.is_null());
            line.insert("has_error".into(), has_error.into());
        }
    }
    json.to_string()
}
