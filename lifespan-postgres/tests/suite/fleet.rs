//! The statuses the replicas publish for each other: one statement to publish, one to read
//! them all, on the database's clock; a replica's last status replaces its earlier one; those
//! silent for over an hour are forgotten; two apps see each other's.

use std::time::Duration;

use super::common::*;
use lifespan_core::{App, Coordinator, TaskOptions, FORGET_SILENT_REPLICAS_AFTER};
use lifespan_test_support::unique_name;

/// The statuses of `instances` that `coordinator` shows, as (instance, status, published µs,
/// expires µs).
async fn shown(
    coordinator: &impl Coordinator,
    instances: &[&str],
) -> Vec<(String, String, i64, i64)> {
    let statuses = coordinator.replica_statuses().await.unwrap().unwrap();
    statuses
        .replicas
        .into_iter()
        .filter(|replica| instances.contains(&replica.instance.as_str()))
        .map(|replica| {
            let micros = |at: std::time::SystemTime| {
                i64::try_from(
                    at.duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_micros(),
                )
                .unwrap()
            };
            (
                replica.instance,
                replica.status,
                micros(replica.published),
                micros(replica.expires),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_replica_s_status_is_kept_until_replaced_in_one_statement_each() {
    with_database("publish statuses", |database| async move {
        let a = prepared(database, "lifespan-fleet-a").await;
        let (first, second) = (unique_name("fleet-a"), unique_name("fleet-b"));
        let before = a.queries();
        let ttl = Duration::from_secs(15);
        assert!(a
            .publish_status(&second, r#"{"tasks":[2]}"#, ttl)
            .await
            .unwrap());
        assert!(a
            .publish_status(&first, r#"{"tasks":[1]}"#, ttl)
            .await
            .unwrap());
        assert_eq!(a.queries() - before, 2, "one statement each");
        let before = a.queries();
        let rows = shown(&a, &[&first, &second]).await;
        assert_eq!(a.queries() - before, 1, "one statement");
        let names: Vec<_> = rows.iter().map(|row| row.0.as_str()).collect();
        assert_eq!(names, [first.as_str(), second.as_str()], "by instance name");
        for (_, _, published, expires) in &rows {
            assert_eq!(expires - published, 15_000_000);
        }
        let clock = db_now(&a).await;
        assert!(rows
            .iter()
            .all(|row| row.2 <= clock && clock - row.2 < 60_000_000));

        assert!(a
            .publish_status(&first, r#"{"tasks":[3]}"#, ttl)
            .await
            .unwrap());
        let rows = shown(&a, &[&first]).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, r#"{"tasks":[3]}"#);
    })
    .await;
}

#[tokio::test]
async fn statuses_silent_for_over_an_hour_are_forgotten_at_the_next_publication() {
    with_database("forget statuses", |database| async move {
        let a = prepared(database, "lifespan-fleet-forget").await;
        let (old, recent, publisher) = (
            unique_name("fleet-old"),
            unique_name("fleet-recent"),
            unique_name("fleet-publisher"),
        );
        let mut admin = admin(database).await;
        let hour = i64::try_from(FORGET_SILENT_REPLICAS_AFTER.as_secs()).unwrap();
        for (instance, expired_ago) in [(&old, hour + 60), (&recent, hour - 60)] {
            sqlx::query(
                "INSERT INTO lifespan_replicas (instance, status, published_at, expires_at) \
                 VALUES ($1, '{}', now() - ($2 + 15) * interval '1 second', \
                 now() - $2 * interval '1 second')",
            )
            .bind(instance)
            .bind(expired_ago)
            .execute(&mut admin)
            .await
            .unwrap();
        }
        // (Kept until a publication: any test's, as the tests share the tables.)
        assert!(a
            .publish_status(&publisher, "{}", Duration::from_secs(15))
            .await
            .unwrap());
        let left: Vec<_> = shown(&a, &[&old, &recent, &publisher])
            .await
            .into_iter()
            .map(|row| row.0)
            .collect();
        let mut expected = vec![recent.clone(), publisher.clone()];
        expected.sort();
        assert_eq!(left, expected);
    })
    .await;
}

#[tokio::test]
async fn two_apps_publish_their_tasks_for_each_other() {
    with_database("apps publish", |database| async move {
        let (first, second) = (unique_name("fleet-app-a"), unique_name("fleet-app-b"));
        let apps: Vec<App> = [&first, &second]
            .into_iter()
            .map(|instance| {
                let app = App::builder()
                    .empty()
                    .coordinator(coordinator(database, "lifespan-fleet-app"))
                    .instance(instance.as_str())
                    .publish_status(Some(Duration::from_millis(100)))
                    .build();
                let options = TaskOptions::new().every(Duration::from_millis(50));
                let task = format!("sync of {instance}");
                app.register_task_with(task, options, || async {}).unwrap();
                app
            })
            .collect();
        for app in &apps {
            app.start().await.unwrap();
        }
        let reader = prepared(database, "lifespan-fleet-reader").await;
        loop {
            let rows = shown(&reader, &[&first, &second]).await;
            let ran = |row: &(String, String, i64, i64)| {
                row.1.contains(&format!(r#""name":"sync of {}""#, row.0))
                    && row.1.contains(r#""outcome":"succeeded""#)
            };
            if rows.len() == 2 && rows.iter().all(ran) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for app in &apps {
            app.shutdown().await;
        }
    })
    .await;
}
