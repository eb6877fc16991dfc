//! The statements: every time is the database's `now()`, every duration a number of
//! microseconds (`bigint`), every time returned as microseconds since the Unix epoch.

/// The key of the transaction-level advisory lock that serializes [`PREPARE`] between replicas
/// starting at once (`CREATE TABLE IF NOT EXISTS` alone can fail on a concurrent creation):
/// "lifespan" in ASCII, written out in the statement.
#[cfg(test)]
const PREPARE_LOCK: i64 = i64::from_be_bytes(*b"lifespan");

/// Creates the tables, if they do not exist. Sent in a transaction, which holds the advisory
/// lock to its end (see [`crate::tables::prepare`]).
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
    // The time of the last point claimed, in µs since the Unix epoch.
    "    last_point bigint NOT NULL,\n",
    "    held_until timestamptz NOT NULL,\n",
    "    claimed_by text NOT NULL,\n",
    "    claimed_at timestamptz NOT NULL\n",
    ");\n",
    // The version of the tables' layout: one row, written once.
    "CREATE TABLE IF NOT EXISTS lifespan_schema (version integer NOT NULL);\n",
);

/// Takes the lease of task `$1` for instance `$2` for `$3` µs if it is free (no row yet:
/// token 1) or expired (the next token); otherwise reads its holder. Returns at most one row:
/// holder, token, the term's start (µs since the epoch), whether it was granted.
///
/// The read sees the table as of the statement's start: if another replica inserted the row
/// concurrently, it finds nothing (the caller answers "held by someone").
pub(crate) const ACQUIRE: &str = "\
WITH taken AS (
    INSERT INTO lifespan_leases AS l (task, holder, token, acquired_at, renewed_at, expires_at)
    VALUES ($1, $2, 1, now(), now(), now() + $3 * interval '1 microsecond')
    ON CONFLICT (task) DO UPDATE SET
        holder = EXCLUDED.holder,
        token = l.token + 1,
        acquired_at = now(),
        renewed_at = now(),
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= now()
    RETURNING l.holder, l.token, (extract(epoch FROM l.acquired_at) * 1000000)::bigint, true
)
SELECT * FROM taken
UNION ALL
SELECT holder, token, (extract(epoch FROM acquired_at) * 1000000)::bigint, false
FROM lifespan_leases
WHERE task = $1 AND NOT EXISTS (SELECT 1 FROM taken)";

/// Extends the term of task `$1` with token `$2` by `$3` µs from now, if it is still current
/// and not expired: one row updated, or none.
pub(crate) const RENEW: &str = "\
UPDATE lifespan_leases
SET renewed_at = now(), expires_at = now() + $3 * interval '1 microsecond'
WHERE task = $1 AND token = $2 AND expires_at > now()";

/// Ends the term of task `$1` with token `$2` now, if it is still current and not expired.
pub(crate) const RELEASE: &str = "\
UPDATE lifespan_leases
SET expires_at = now()
WHERE task = $1 AND token = $2 AND expires_at > now()";

/// Claims for instance `$2` the point of task `$1`'s schedule of period `$3` µs that is due
/// now, holding later points off for `$4` µs: won only if it is later than the last point
/// claimed and that one's hold has passed. Returns the point won (or NULL) and the µs until
/// the next point.
///
/// A point is kept by its time (µs since the epoch), not its number, so that points of
/// different schedules compare: a task whose period or cron schedule changed between deploys
/// claims its next point after the last one run, rather than waiting for its point numbers to
/// catch up with the old ones.
pub(crate) const CLAIM_POINT: &str = "\
WITH clock AS (
    SELECT (extract(epoch FROM now()) * 1000000)::bigint AS now_us
), claimed AS (
    INSERT INTO lifespan_points AS p (task, last_point, held_until, claimed_by, claimed_at)
    SELECT $1, now_us - now_us % $3, now() + $4 * interval '1 microsecond', $2, now() FROM clock
    ON CONFLICT (task) DO UPDATE SET
        last_point = EXCLUDED.last_point,
        held_until = EXCLUDED.held_until,
        claimed_by = EXCLUDED.claimed_by,
        claimed_at = EXCLUDED.claimed_at
    WHERE p.last_point < EXCLUDED.last_point AND p.held_until <= now()
    RETURNING p.last_point
)
SELECT (SELECT last_point / $3 FROM claimed), $3 - now_us % $3 FROM clock";

/// Claims for instance `$2` the point `$3` of task `$1` that the caller names (a cron
/// occurrence, by its Unix time in milliseconds), holding later points off for `$4` µs: won
/// only if it is later than the last point claimed and that one's hold has passed. Returns one
/// row, the point, if won; none otherwise. Kept by its time in µs, as [`CLAIM_POINT`] keeps
/// its points.
pub(crate) const CLAIM_EXPLICIT_POINT: &str = "\
INSERT INTO lifespan_points AS p (task, last_point, held_until, claimed_by, claimed_at)
VALUES ($1, $3 * 1000, now() + $4 * interval '1 microsecond', $2, now())
ON CONFLICT (task) DO UPDATE SET
    last_point = EXCLUDED.last_point,
    held_until = EXCLUDED.held_until,
    claimed_by = EXCLUDED.claimed_by,
    claimed_at = EXCLUDED.claimed_at
WHERE p.last_point < EXCLUDED.last_point AND p.held_until <= now()
RETURNING p.last_point / 1000";

/// The µs until the next point of a schedule of period `$1` µs.
pub(crate) const UNTIL_NEXT_POINT: &str = "\
SELECT $1 - (extract(epoch FROM now()) * 1000000)::bigint % $1";

#[cfg(test)]
mod tests {
    #[test]
    fn the_lock_key_is_the_one_in_the_statement() {
        assert!(super::PREPARE.contains(&format!("pg_advisory_xact_lock({})", super::PREPARE_LOCK)));
    }
}
