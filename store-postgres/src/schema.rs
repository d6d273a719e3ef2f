//! The database schema, as numbered migrations applied in order under an
//! advisory lock, so that several instances starting together do not race.

use tokio_postgres::Client;

/// Migrations, in order; a migration once released is never changed.
const MIGRATIONS: &[&str] = &[
    // 1: sites with their ledger heads, config versions, records, subject links,
    // checkpoints. A record is kept as its JSON text, the form its hash covers.
    r#"
    CREATE TABLE sites (
        id text PRIMARY KEY,
        origins jsonb NOT NULL,
        created_at text NOT NULL,
        key_hash text NOT NULL,
        secret text NOT NULL,
        config_version text NOT NULL,
        head_seq bigint NOT NULL DEFAULT 0,
        head_hash text NOT NULL DEFAULT '',
        head_at_ms bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE configs (
        site text NOT NULL REFERENCES sites (id),
        version text NOT NULL,
        published_at text NOT NULL,
        config text NOT NULL,
        PRIMARY KEY (site, version)
    );
    CREATE TABLE records (
        site text NOT NULL REFERENCES sites (id),
        seq bigint NOT NULL,
        consent_id text NOT NULL,
        received_ms bigint NOT NULL,
        idempotency_key text,
        record text NOT NULL,
        PRIMARY KEY (site, seq)
    );
    CREATE INDEX records_consent ON records (consent_id, site, seq);
    CREATE INDEX records_time ON records (site, received_ms);
    CREATE UNIQUE INDEX records_idempotency ON records (site, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE subjects (
        site text NOT NULL,
        subject_hash text NOT NULL,
        consent_id text NOT NULL,
        PRIMARY KEY (site, subject_hash, consent_id)
    );
    CREATE TABLE checkpoints (
        site text NOT NULL,
        seq bigint NOT NULL,
        checkpoint text NOT NULL,
        PRIMARY KEY (site, seq)
    );
    "#,
    // 2: the public keys of every instance that signs checkpoints.
    r#"
    CREATE TABLE signing_keys (
        key_id text PRIMARY KEY,
        x text NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now()
    );
    "#,
    // 3: leases, so that one instance at a time does a periodic job.
    r#"
    CREATE TABLE leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        until timestamptz NOT NULL
    );
    "#,
    // 4: records packed (deflate with a dictionary, see `pack`) in `packed`;
    // rows written before keep their JSON text in `record`. No index on time:
    // times never run backwards along a chain, so `select` finds a time
    // range's seqs on the primary key. The check holds for every row before
    // it (`record` was NOT NULL): `NOT VALID` spares a scan of the table.
    r#"
    DROP INDEX records_time;
    ALTER TABLE records ALTER COLUMN record DROP NOT NULL;
    ALTER TABLE records ADD COLUMN packed bytea;
    ALTER TABLE records ADD CONSTRAINT records_kept
        CHECK (record IS NOT NULL OR packed IS NOT NULL) NOT VALID;
    "#,
    // 5: the console's documents (operator accounts, sessions) and the
    // operators' audit trail, a hash chain sealed under a transaction lock.
    r#"
    CREATE TABLE docs (
        tbl text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (tbl, key)
    );
    CREATE TABLE audit (
        seq bigint PRIMARY KEY,
        entry text NOT NULL
    );
    "#,
    // 6: records packed with format 2 (a dictionary that knows the five
    // operators' sites too), which releases before it cannot read: they must
    // no longer start on this database (`newer`). Format 1 rows stay as they
    // are and are read beside them.
    r#"
    COMMENT ON COLUMN records.packed IS
        'a record''s JSON text deflated with a preset dictionary, a format byte first: 1 or 2 (store-postgres/dictionary/records-N.txt)';
    "#,
];

/// The migration the database is at when it is newer than this release's
/// last (a newer release migrated it): this release cannot read what that one
/// writes, and must not run on it.
pub async fn newer(client: &Client) -> Result<Option<usize>, tokio_postgres::Error> {
    let at: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM keksdose_migrations",
            &[],
        )
        .await?
        .get(0);
    let at = usize::try_from(at).unwrap_or(0);
    Ok((at > MIGRATIONS.len()).then_some(at))
}

/// What a server says when the database is newer than it.
pub fn newer_error(at: usize) -> String {
    format!(
        "the database's schema is at migration {at}, newer than this release knows ({}): \
         run this release's servers no more on it; upgrade them",
        MIGRATIONS.len()
    )
}

/// Brings the schema up to date: takes the migration lock, applies each
/// migration not yet recorded in its own transaction, lets the lock go.
/// Returns how many were applied.
pub async fn migrate(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    client
        .batch_execute(
            "SELECT pg_advisory_lock(7424837);
             CREATE TABLE IF NOT EXISTS keksdose_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await?;
    let result = apply(client).await;
    let unlocked = client
        .batch_execute("SELECT pg_advisory_unlock(7424837)")
        .await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let done: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM keksdose_migrations",
            &[],
        )
        .await?
        .get(0);
    let mut applied = 0;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if version <= done {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO keksdose_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tx.commit().await?;
        applied += 1;
    }
    Ok(applied)
}
