//! The statements: every time is the database's `now()` (`statement_timestamp()` in the
//! app's own transactions, which may have begun long before; `clock_timestamp()` in a claim of
//! a run, whose transaction may have waited for the task's row), every duration a number of
//! microseconds (`bigint`), every time returned as microseconds since the Unix epoch.

/// The key of the transaction-level advisory lock that serializes [`PREPARE`] between replicas
/// starting at once (`CREATE TABLE IF NOT EXISTS` alone can fail on a concurrent creation):
/// "lifespan" in ASCII, written out in the statement.
#[cfg(test)]
const PREPARE_LOCK: i64 = i64::from_be_bytes(*b"lifespan");

/// Creates the tables, if they do not exist, in the layout of the current version (see
/// [`crate::tables::VERSION`]). Sent in a transaction, which holds the advisory lock to its end
/// (see [`crate::tables::prepare`]).
pub(crate) const PREPARE: &str = concat!(
    "SELECT pg_advisory_xact_lock(7811887614565310830);\n",
    "CREATE TABLE IF NOT EXISTS lifespan_leases (\n",
    "    task text PRIMARY KEY,\n",
    "    holder text NOT NULL,\n",
    "    token bigint NOT NULL,\n",
    "    acquired_at timestamptz NOT NULL,\n",
    "    renewed_at timestamptz NOT NULL,\n",
    "    expires_at timestamptz NOT NULL\n",
    ");\n",
    "CREATE TABLE IF NOT EXISTS lifespan_points (\n",
    "    task text PRIMARY KEY,\n",
    // The time of the last point started, in µs since the Unix epoch; NULL before the first.
    "    last_point bigint,\n",
    "    held_until timestamptz NOT NULL,\n",
    "    claimed_by text NOT NULL,\n",
    "    claimed_at timestamptz NOT NULL,\n",
    // The last token granted to a run of the task.
    "    token bigint NOT NULL DEFAULT 0,\n",
    // How many points of the task's schedule no replica started.
    "    missed bigint NOT NULL DEFAULT 0\n",
    ");\n",
    "CREATE TABLE IF NOT EXISTS lifespan_runs (\n",
    "    task text NOT NULL,\n",
    "    point bigint NOT NULL,\n",
    "    attempt integer NOT NULL,\n",
    "    instance text NOT NULL,\n",
    "    token bigint NOT NULL,\n",
    "    started_at timestamptz NOT NULL,\n",
    "    renewed_at timestamptz NOT NULL,\n",
    "    expires_at timestamptz NOT NULL,\n",
    "    finished_at timestamptz,\n",
    "    outcome text,\n",
    "    effect_at timestamptz,\n",
    // Whether it is a manual run, whose point is the clock when it started.
    "    manual boolean NOT NULL DEFAULT false,\n",
    "    PRIMARY KEY (task, point)\n",
    ");\n",
    // What operators asked of each task: its pause (who, since when) and a manual run not
    // started yet (who asked, when).
    "CREATE TABLE IF NOT EXISTS lifespan_control (\n",
    "    task text PRIMARY KEY,\n",
    "    paused_by text,\n",
    "    paused_at timestamptz,\n",
    "    run_requested_by text,\n",
    "    run_requested_at timestamptz\n",
    ");\n",
    // The status each replica published last (JSON, kept as text), until when it is current.
    "CREATE TABLE IF NOT EXISTS lifespan_replicas (\n",
    "    instance text PRIMARY KEY,\n",
    "    status text NOT NULL,\n",
    "    published_at timestamptz NOT NULL,\n",
    "    expires_at timestamptz NOT NULL\n",
    ");\n",
    // One-shot work done: a row per key, committed by the transaction that did the work.
    "CREATE TABLE IF NOT EXISTS lifespan_once (\n",
    "    key text PRIMARY KEY,\n",
    "    done_at timestamptz NOT NULL\n",
    ");\n",
    // The version of the tables' layout: one row.
    "CREATE TABLE IF NOT EXISTS lifespan_schema (version integer NOT NULL);\n",
);

/// The index of the unfinished runs of each task, for the claims: without it, a claim reads
/// every run the ledger keeps of the task to find those in flight. Created once the columns of
/// `lifespan_runs` are checked (see [`crate::tables::prepare`]), if it is missing.
pub(crate) const UNFINISHED_INDEX: &str = "\
CREATE INDEX lifespan_runs_unfinished ON lifespan_runs (task, point) WHERE finished_at IS NULL";

/// Brings `lifespan_points` of version 1 to version 2 (a no-op on version 2), keeping its
/// rows: the run token counter, the count of missed points, and no last point before the first
/// run.
pub(crate) const MIGRATE_TO_2: &str = "\
ALTER TABLE lifespan_points
    ADD COLUMN IF NOT EXISTS token bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS missed bigint NOT NULL DEFAULT 0,
    ALTER COLUMN last_point DROP NOT NULL";

/// Takes the lease of task `$1` for instance `$2` for `$3` µs if it is free or expired and the
/// task is not paused, with the next token: one more than the greater of the lease's last token
/// and the last token of the task's runs (so that a task that was once-per-point and becomes a
/// singleton, or the other way round, still gets greater tokens); otherwise reads its holder.
/// Returns one row: holder, token, the term's start (µs since the epoch), whether it was
/// granted (all NULL if the task never had a lease), then who paused the task and since when
/// (µs), NULL if it is not paused.
///
/// The read sees the table as of the statement's start: if another replica inserted the row
/// concurrently, it finds nothing (the caller answers "held by someone").
pub(crate) const ACQUIRE: &str = "\
WITH pause AS (
    SELECT paused_by, (extract(epoch FROM paused_at) * 1000000)::bigint AS paused_us
    FROM lifespan_control
    WHERE task = $1 AND paused_at IS NOT NULL
), taken AS (
    INSERT INTO lifespan_leases AS l (task, holder, token, acquired_at, renewed_at, expires_at)
    SELECT $1::text, $2::text, coalesce((SELECT token FROM lifespan_points WHERE task = $1), 0) + 1,
            now(), now(), now() + $3::bigint * interval '1 microsecond'
    WHERE NOT EXISTS (SELECT 1 FROM pause)
    ON CONFLICT (task) DO UPDATE SET
        holder = EXCLUDED.holder,
        token = greatest(l.token, EXCLUDED.token - 1) + 1,
        acquired_at = now(),
        renewed_at = now(),
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= now()
    RETURNING l.holder, l.token, (extract(epoch FROM l.acquired_at) * 1000000)::bigint AS since,
        true AS granted
), lease AS (
    SELECT * FROM taken
    UNION ALL
    SELECT holder, token, (extract(epoch FROM acquired_at) * 1000000)::bigint, false
    FROM lifespan_leases
    WHERE task = $1 AND NOT EXISTS (SELECT 1 FROM taken)
)
SELECT lease.holder, lease.token, lease.since, lease.granted, pause.paused_by, pause.paused_us
FROM (SELECT 1) AS one LEFT JOIN lease ON true LEFT JOIN pause ON true";

/// Extends the term of task `$1` with token `$2` by `$3` µs from now, if it is still current
/// and not expired, and the task is not paused: one row updated, or none.
pub(crate) const RENEW: &str = "\
UPDATE lifespan_leases
SET renewed_at = now(), expires_at = now() + $3 * interval '1 microsecond'
WHERE task = $1 AND token = $2 AND expires_at > now()
    AND NOT EXISTS (
        SELECT 1 FROM lifespan_control c WHERE c.task = $1 AND c.paused_at IS NOT NULL
    )";

/// Ends the term of task `$1` with token `$2` now, if it is still current and not expired.
pub(crate) const RELEASE: &str = "\
UPDATE lifespan_leases
SET expires_at = now()
WHERE task = $1 AND token = $2 AND expires_at > now()";

/// Locks the row of task `$1` in `lifespan_points` to the end of the transaction: the claims
/// of a task's runs take their turns on it. No row, if the task has none yet.
pub(crate) const LOCK_TASK: &str = "\
SELECT 1 FROM lifespan_points WHERE task = $1 FOR UPDATE";

/// Creates the row of task `$1` for instance `$2`, if it has none: no point started yet, no
/// hold, no token granted.
pub(crate) const CREATE_TASK: &str = "\
INSERT INTO lifespan_points (task, last_point, held_until, claimed_by, claimed_at, token)
VALUES ($1, NULL, '-infinity', $2, now(), 0)
ON CONFLICT (task) DO NOTHING";

/// Starts a run of task `$1` for instance `$2`, the task's row being locked by [`LOCK_TASK`]
/// (so that this statement's snapshot, taken after the lock, sees every claim before it).
/// `$3`: the points asked for (µs since the epoch), `$4`: whether the earliest eligible one
/// starts (else the latest), `$5`: the grace period in µs or NULL, `$6`: the hold in µs, `$7`:
/// the run's lease in µs, `$8`: whether runs may overlap, `$9`: the last point the caller knew
/// of, or NULL, `$10`: for each point asked for, how many points of the schedule lie between
/// `$9` and it.
///
/// Nothing starts while the task is paused (its row in `lifespan_control`). Else, in this
/// order: an unfinished run whose lease expired is taken over (the earliest point) as its next
/// attempt; else, overlap forbidden, an unfinished run means nothing starts; else, the hold
/// past, the earliest or latest point asked for that is later than the last point, due, and
/// within the grace period starts as attempt 1; else, a manual run asked for starts, as attempt
/// 1 of a point that is the clock (later than every point of the task in the ledger), marked
/// `manual`, and the request is cleared: it changes neither the last point, the hold nor the
/// count of missed points. A run granted takes the next token: one more than the greater of the
/// task's run token counter and its lease's token. A point started after the last point adds
/// the points between the two to the task's count of missed points: from `$10` if the last
/// point is `$9`, else the points asked for between the two (`RunRequest::missed_before`).
///
/// Its time is the clock when it decides (`clock_timestamp()`, read once), not `now()`: the
/// transaction began before the wait for the task's row, and a run that finished during that
/// wait, which this statement sees finished, would otherwise have ended after the next run
/// started, in the ledger.
///
/// Returns one row: the run's point, attempt, token (NULL if none), the clock (µs), the last
/// point before this claim, whether a run was in flight (so that nothing started), the task's
/// count of missed points after this claim, whether the run is manual, who paused the task
/// and since when (µs), NULL if it is not paused, and whether a manual run is asked for and
/// not started by this claim.
pub(crate) const CLAIM_RUN: &str = "\
WITH clock AS (
    SELECT at, (extract(epoch FROM at) * 1000000)::bigint AS now_us
    FROM (SELECT clock_timestamp() AS at) AS read
), task AS (
    SELECT p.last_point, p.held_until, p.missed,
        greatest(p.token, coalesce((SELECT l.token FROM lifespan_leases l WHERE l.task = $1), 0))
            + 1 AS next_token
    FROM lifespan_points p
    WHERE p.task = $1
), control AS (
    SELECT c.paused_by, (extract(epoch FROM c.paused_at) * 1000000)::bigint AS paused_us,
        c.paused_at IS NOT NULL AS paused, c.run_requested_at IS NOT NULL AS requested
    FROM lifespan_control c
    WHERE c.task = $1
), open AS (
    SELECT NOT EXISTS (SELECT 1 FROM control WHERE paused) AS open
), expired AS (
    SELECT r.point FROM lifespan_runs r, clock, open
    WHERE open.open AND r.task = $1 AND r.finished_at IS NULL AND r.expires_at <= clock.at
    ORDER BY r.point
    LIMIT 1
), busy AS (
    SELECT NOT $8 AND EXISTS (
        SELECT 1 FROM lifespan_runs r WHERE r.task = $1 AND r.finished_at IS NULL
    ) AS in_flight
), due AS (
    SELECT asked.point, asked.missed
    FROM unnest($3::bigint[], $10::bigint[]) AS asked(point, missed), task, clock, busy, open
    WHERE open.open
        AND NOT EXISTS (SELECT 1 FROM expired)
        AND NOT busy.in_flight
        AND task.held_until <= clock.at
        AND asked.point IS NOT NULL
        AND (task.last_point IS NULL OR asked.point > task.last_point)
        AND asked.point <= clock.now_us
        AND ($5::bigint IS NULL OR clock.now_us - asked.point <= $5)
    ORDER BY CASE WHEN $4 THEN asked.point ELSE -asked.point END
    LIMIT 1
), manual AS (
    SELECT greatest(clock.now_us, coalesce(
        (SELECT max(r.point) FROM lifespan_runs r WHERE r.task = $1), clock.now_us - 1) + 1
    ) AS point
    FROM clock, busy, open
    WHERE open.open AND NOT busy.in_flight
        AND NOT EXISTS (SELECT 1 FROM expired)
        AND NOT EXISTS (SELECT 1 FROM due)
        AND EXISTS (SELECT 1 FROM control WHERE requested)
), skipped AS (
    SELECT CASE
        WHEN task.last_point IS NULL THEN 0
        WHEN task.last_point = $9 AND due.missed IS NOT NULL THEN due.missed
        ELSE (SELECT count(*) FROM unnest($3::bigint[]) AS asked(point)
              WHERE asked.point > task.last_point AND asked.point < due.point)
    END AS missed
    FROM due, task
), taken AS (
    UPDATE lifespan_runs r SET
        attempt = r.attempt + 1,
        instance = $2,
        token = task.next_token,
        started_at = clock.at,
        renewed_at = clock.at,
        expires_at = clock.at + $7 * interval '1 microsecond'
    FROM expired, task, clock
    WHERE r.task = $1 AND r.point = expired.point
        AND r.finished_at IS NULL AND r.expires_at <= clock.at
    RETURNING r.point, r.attempt, r.token, r.manual
), started AS (
    INSERT INTO lifespan_runs AS r
        (task, point, attempt, instance, token, started_at, renewed_at, expires_at, manual)
    SELECT $1, chosen.point, 1, $2, task.next_token, clock.at, clock.at,
        clock.at + $7 * interval '1 microsecond', chosen.manual
    FROM (SELECT point, false AS manual FROM due UNION ALL SELECT point, true FROM manual)
        AS chosen, task, clock
    ON CONFLICT (task, point) DO NOTHING
    RETURNING r.point, r.attempt, r.token, r.manual
), run AS (
    SELECT * FROM taken UNION ALL SELECT * FROM started
), scheduled AS (
    SELECT point FROM started WHERE NOT manual
), added AS (
    SELECT coalesce((SELECT missed FROM skipped WHERE EXISTS (SELECT 1 FROM scheduled)), 0)
        AS missed
), counted AS (
    UPDATE lifespan_points p SET
        token = task.next_token,
        last_point = coalesce((SELECT point FROM scheduled), p.last_point),
        held_until = CASE WHEN EXISTS (SELECT 1 FROM scheduled)
            THEN clock.at + $6 * interval '1 microsecond' ELSE p.held_until END,
        missed = p.missed + added.missed,
        claimed_by = $2,
        claimed_at = clock.at
    FROM task, added, clock
    WHERE p.task = $1 AND EXISTS (SELECT 1 FROM run)
), cleared AS (
    UPDATE lifespan_control c SET run_requested_by = NULL, run_requested_at = NULL
    WHERE c.task = $1 AND EXISTS (SELECT 1 FROM started WHERE manual)
)
SELECT run.point, run.attempt, run.token, clock.now_us, task.last_point,
    busy.in_flight AND NOT EXISTS (SELECT 1 FROM expired),
    coalesce(task.missed, 0) + added.missed,
    coalesce(run.manual, false), control.paused_by, control.paused_us,
    coalesce((SELECT requested FROM control), false)
        AND NOT EXISTS (SELECT 1 FROM started WHERE manual)
FROM clock CROSS JOIN busy CROSS JOIN added LEFT JOIN task ON true LEFT JOIN run ON true
    LEFT JOIN control ON control.paused";

/// Extends the lease of the run of point `$2` of task `$1` with token `$3` by `$4` µs from
/// now, if it is still the point's current attempt, unfinished and not expired: one row
/// updated, or none.
pub(crate) const RENEW_RUN: &str = "\
UPDATE lifespan_runs
SET renewed_at = now(), expires_at = now() + $4 * interval '1 microsecond'
WHERE task = $1 AND point = $2 AND token = $3 AND finished_at IS NULL AND expires_at > now()";

/// Records that the run of point `$2` of task `$1` with token `$3` ended with outcome `$4`,
/// if it is still the point's current attempt and unfinished; if so, forgets the task's
/// finished runs but the `$5` of the latest points (the run finished now among them): those
/// older than the `$5`-th latest, found by walking the primary key back from the latest point,
/// then deleted through it. Returns the number of runs finished: 1 or 0.
pub(crate) const FINISH_RUN: &str = "\
WITH finished AS (
    UPDATE lifespan_runs SET finished_at = now(), outcome = $4
    WHERE task = $1 AND point = $2 AND token = $3 AND finished_at IS NULL
    RETURNING point
), oldest_kept AS (
    SELECT point FROM (
        (SELECT point FROM lifespan_runs
         WHERE task = $1 AND finished_at IS NOT NULL
         ORDER BY point DESC
         LIMIT $5)
        UNION ALL
        SELECT point FROM finished
    ) AS done
    ORDER BY point DESC
    OFFSET greatest($5 - 1, 0)
    LIMIT 1
), forgotten AS (
    DELETE FROM lifespan_runs r
    WHERE r.task = $1 AND r.finished_at IS NOT NULL AND EXISTS (SELECT 1 FROM finished)
        AND r.point < (SELECT point FROM oldest_kept)
)
SELECT count(*) FROM finished";

/// Claims the effect of the run of point `$2` of task `$1` with token `$3`, in the caller's
/// transaction: marks it done, if the run is still the point's current attempt, unfinished,
/// not expired, and no earlier attempt's effect was committed. The row stays locked to the
/// end of the caller's transaction, so that a takeover waits for it. One row if claimed.
///
/// `statement_timestamp()`, not `now()`: the caller's transaction may have begun long before.
pub(crate) const CLAIM_EFFECT: &str = "\
UPDATE lifespan_runs SET effect_at = statement_timestamp()
WHERE task = $1 AND point = $2 AND token = $3 AND finished_at IS NULL
    AND expires_at > statement_timestamp() AND effect_at IS NULL
RETURNING token";

/// Whether the effect of point `$2` of task `$1` was committed (by any attempt): no row if the
/// point's run is not in the ledger.
pub(crate) const EFFECT_DONE: &str = "\
SELECT effect_at IS NOT NULL FROM lifespan_runs WHERE task = $1 AND point = $2";

/// Claims the one-shot work `$1` in the caller's transaction: one row if no transaction has
/// committed it. A concurrent claim's uncommitted row makes this one wait for that transaction:
/// committed, no row; rolled back, the key is claimed here.
pub(crate) const CLAIM_ONCE: &str = "\
INSERT INTO lifespan_once (key, done_at) VALUES ($1, statement_timestamp())
ON CONFLICT (key) DO NOTHING
RETURNING key";

/// Locks the lease of task `$1` in the caller's transaction, if its term of token `$2` is
/// still current and not expired: one row if so. `FOR SHARE`: a renewal of the term waits, a
/// takeover (an `UPDATE`) waits for the caller's transaction to end.
pub(crate) const CHECK_LEASE: &str = "\
SELECT token FROM lifespan_leases
WHERE task = $1 AND token = $2 AND expires_at > statement_timestamp()
FOR SHARE";

/// The runs of the latest `$2` points of task `$1`, latest first, with the task's count of
/// missed points and the clock: a backward walk of the primary key `(task, point)`, `$2` rows
/// at most. One row of NULL runs if the task has none; the count is NULL if the task never
/// claimed a run. Columns: the clock (µs), missed, then point, attempt, instance, token, and
/// the start, lease expiry and end of the run (µs), its outcome, and whether it is manual.
pub(crate) const RECENT_RUNS: &str = "\
SELECT (extract(epoch FROM now()) * 1000000)::bigint,
    (SELECT missed FROM lifespan_points WHERE task = $1),
    r.point, r.attempt, r.instance, r.token,
    (extract(epoch FROM r.started_at) * 1000000)::bigint,
    (extract(epoch FROM r.expires_at) * 1000000)::bigint,
    (extract(epoch FROM r.finished_at) * 1000000)::bigint,
    r.outcome, r.manual
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT * FROM lifespan_runs WHERE task = $1 ORDER BY point DESC LIMIT $2
) AS r ON true
ORDER BY r.point DESC";

/// Pauses task `$1` on behalf of instance `$2`, unless it is paused already: returns the pause
/// in force, who and since when (µs).
pub(crate) const PAUSE: &str = "\
INSERT INTO lifespan_control AS c (task, paused_by, paused_at) VALUES ($1, $2, now())
ON CONFLICT (task) DO UPDATE SET
    paused_by = coalesce(c.paused_by, EXCLUDED.paused_by),
    paused_at = coalesce(c.paused_at, EXCLUDED.paused_at)
RETURNING c.paused_by, (extract(epoch FROM c.paused_at) * 1000000)::bigint";

/// Ends the pause of task `$1`: one row updated, or none if it was not paused.
pub(crate) const RESUME: &str = "\
UPDATE lifespan_control SET paused_by = NULL, paused_at = NULL
WHERE task = $1 AND paused_at IS NOT NULL";

/// Asks for a manual run of task `$1` on behalf of instance `$2`, unless one is asked for
/// already: the next claim that starts no point starts it.
pub(crate) const REQUEST_RUN: &str = "\
INSERT INTO lifespan_control AS c (task, run_requested_by, run_requested_at)
VALUES ($1, $2, now())
ON CONFLICT (task) DO UPDATE SET
    run_requested_by = coalesce(c.run_requested_by, EXCLUDED.run_requested_by),
    run_requested_at = coalesce(c.run_requested_at, EXCLUDED.run_requested_at)";

/// Keeps status `$2` as instance `$1`'s, published now and current for `$3` µs, in place of
/// its last; forgets the statuses of the other instances that expired over `$4` µs ago.
pub(crate) const PUBLISH_STATUS: &str = "\
WITH forgotten AS (
    DELETE FROM lifespan_replicas
    WHERE instance <> $1 AND expires_at < now() - $4 * interval '1 microsecond'
)
INSERT INTO lifespan_replicas AS r (instance, status, published_at, expires_at)
VALUES ($1, $2, now(), now() + $3 * interval '1 microsecond')
ON CONFLICT (instance) DO UPDATE SET
    status = EXCLUDED.status,
    published_at = EXCLUDED.published_at,
    expires_at = EXCLUDED.expires_at";

/// The statuses the replicas published, with the clock: one row with NULLs if there are none.
pub(crate) const REPLICA_STATUSES: &str = "\
SELECT (extract(epoch FROM clock.now) * 1000000)::bigint, r.instance, r.status,
    (extract(epoch FROM r.published_at) * 1000000)::bigint,
    (extract(epoch FROM r.expires_at) * 1000000)::bigint
FROM (SELECT now() AS now) AS clock
LEFT JOIN lifespan_replicas AS r ON true
ORDER BY r.instance";

/// The database's clock, in µs since the Unix epoch.
pub(crate) const NOW: &str = "SELECT (extract(epoch FROM now()) * 1000000)::bigint";

#[cfg(test)]
mod tests {
    #[test]
    fn the_lock_key_is_the_one_in_the_statement() {
        assert!(super::PREPARE.contains(&format!("pg_advisory_xact_lock({})", super::PREPARE_LOCK)));
    }
}
