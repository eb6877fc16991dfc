//! The statuses the replicas publish for each other's status routes and dashboards, on the
//! claims' connection: one statement to publish, one to read them all.

use std::time::Duration;

use lifespan_core::{
    CoordinatorError, ReplicaStatus, ReplicaStatuses, FORGET_SILENT_REPLICAS_AFTER,
};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::coordinator::{micros, time};
use crate::session::{statement, Line};
use crate::{sql, PgCoordinator};

impl PgCoordinator {
    /// [`Coordinator::publish_status`](lifespan_core::Coordinator::publish_status) of
    /// `instance`.
    pub(crate) async fn publish(
        &self,
        instance: &str,
        status: &str,
        ttl: Duration,
    ) -> Result<(), CoordinatorError> {
        let what = || format!("publishing the status of `{instance}`");
        let (instance_owned, status) = (instance.to_owned(), status.to_owned());
        let statement = statement::<(), _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                sqlx::query(sql::PUBLISH_STATUS)
                    .bind(&instance_owned)
                    .bind(&status)
                    .bind(micros(ttl))
                    .bind(micros(FORGET_SILENT_REPLICAS_AFTER))
                    .execute(connection)
                    .await
                    .map(drop)
            })
        });
        self.run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?;
        Ok(())
    }

    /// [`Coordinator::replica_statuses`](lifespan_core::Coordinator::replica_statuses).
    pub(crate) async fn statuses(&self) -> Result<ReplicaStatuses, CoordinatorError> {
        let what = || "reading the replicas' statuses".to_owned();
        let statement = statement::<Vec<Read>, _>(move |connection: &mut PgConnection, _| {
            Box::pin(async move {
                let rows = sqlx::query(sql::REPLICA_STATUSES)
                    .fetch_all(connection)
                    .await?;
                rows.iter().map(read).collect()
            })
        });
        let rows = self
            .run(Line::Claims, statement, |_, _| {})
            .await
            .map_err(|failure| self.error(&what(), failure))?
            .value;
        let Some(first) = rows.first() else {
            return Err(self.no_row(&what()));
        };
        let now = time(first.now);
        let replicas = rows.into_iter().filter_map(|read| read.replica).collect();
        Ok(ReplicaStatuses::new(replicas, now))
    }
}

/// One row of [`sql::REPLICA_STATUSES`]: the clock, and a status if there is any.
struct Read {
    now: i64,
    replica: Option<ReplicaStatus>,
}

/// A row of [`sql::REPLICA_STATUSES`].
fn read(row: &PgRow) -> Result<Read, sqlx::Error> {
    let instance: Option<String> = row.try_get(1)?;
    let replica = match instance {
        None => None,
        Some(instance) => Some(ReplicaStatus::new(
            instance,
            row.try_get::<String, _>(2)?,
            time(row.try_get(3)?),
            time(row.try_get(4)?),
        )),
    };
    Ok(Read {
        now: row.try_get(0)?,
        replica,
    })
}
