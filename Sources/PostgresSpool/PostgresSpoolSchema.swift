import EnchargeSpool
import Logging
import PostgresNIO

/// The spool's tables in the schema `encharge_spool`, created and upgraded on open: one list of
/// statements per version, applied in order inside one transaction under an advisory lock, so two
/// replicas starting together never race (the second waits, then finds the schema current). A
/// shipped version is never edited; a change is a new version.
///
/// ```sql
/// schema_version(version)                           -- one row: the last version applied
/// event(id bigint identity,                         -- spool order (see PostgresSpoolWriter)
///       request bigint,                             -- the accepted request (request_number)
///       request_id, source, accepted_at,            -- the request's id, route, Unix seconds
///       lane smallint, identity_key bytea,          -- SpoolLanes.lane(ofIdentityKey:), the key's UTF-8
///       wire bytea,                                 -- the wire body, exactly what is POSTed
///       state 'pending' | 'dead', reason, http_status, response_body, attempts, settled_at)
/// dedup(key text primary key, expires_at)           -- delivery ids seen, until their window ends
/// failed_request(request_id primary key, request, error, traceback, failed_at, kept identity)
/// counts(pending, delivered, dead)                  -- one row, changed with the rows it counts
/// delivery_process(id, backend_pid, heartbeat_at)   -- live delivering processes (lane balance)
/// take_lanes(candidates int[], wanted int) int[]    -- try-locks lanes until `wanted` are taken
/// ```
enum PostgresSpoolSchema {
    /// The advisory-lock class of every lock the spool takes (`pg_advisory_lock(lockClass, key)`):
    /// key 0..<laneCount is a lane, `orderKey` orders commits, `migrationKey` serializes opens.
    static let lockClass: Int32 = 0x456E_6368  // "Ench"
    static let orderKey: Int32 = -1
    static let migrationKey: Int32 = -2
    /// The channel `NOTIFY` announces new pending events on.
    static let channel = "encharge_spool"

    /// The statements of each version; `migrations[n]` takes a spool from version n to n + 1.
    static let migrations: [[String]] = [
        [
            "CREATE SCHEMA IF NOT EXISTS encharge_spool",
            "CREATE TABLE encharge_spool.schema_version (version integer NOT NULL)",
            "INSERT INTO encharge_spool.schema_version (version) VALUES (0)",
            "CREATE SEQUENCE encharge_spool.request_number",
            """
            CREATE TABLE encharge_spool.event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                request bigint NOT NULL,
                request_id text NOT NULL,
                source text NOT NULL,
                accepted_at double precision NOT NULL,
                lane smallint NOT NULL,
                identity_key bytea NOT NULL,
                wire bytea NOT NULL,
                state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
                reason text,
                http_status integer,
                response_body text,
                attempts integer,
                settled_at double precision
            )
            """,
            "CREATE INDEX event_pending ON encharge_spool.event (id) WHERE state = 'pending'",
            "CREATE INDEX event_dead ON encharge_spool.event (id) WHERE state = 'dead'",
            // The rest of a request a batch read cut (`pendingEvents`).
            "CREATE INDEX event_pending_by_request ON encharge_spool.event (request, id) WHERE state = 'pending'",
            """
            CREATE TABLE encharge_spool.dedup (
                key text PRIMARY KEY,
                expires_at double precision NOT NULL
            )
            """,
            "CREATE INDEX dedup_by_expiry ON encharge_spool.dedup (expires_at)",
            """
            CREATE TABLE encharge_spool.failed_request (
                request_id text PRIMARY KEY,
                request text NOT NULL,
                error text NOT NULL,
                traceback text,
                failed_at double precision NOT NULL,
                kept bigint GENERATED ALWAYS AS IDENTITY
            )
            """,
            """
            CREATE TABLE encharge_spool.counts (
                single boolean PRIMARY KEY DEFAULT true CHECK (single),
                pending bigint NOT NULL,
                delivered bigint NOT NULL,
                dead bigint NOT NULL
            )
            """,
            "INSERT INTO encharge_spool.counts (pending, delivered, dead) VALUES (0, 0, 0)",
            """
            CREATE TABLE encharge_spool.delivery_process (
                id text PRIMARY KEY,
                backend_pid integer NOT NULL,
                heartbeat_at timestamptz NOT NULL
            )
            """,
            """
            CREATE FUNCTION encharge_spool.take_lanes(lock_class integer, candidates integer[], wanted integer)
            RETURNS integer[] LANGUAGE plpgsql AS $$
            DECLARE
                taken integer[] := '{}';
                lane integer;
            BEGIN
                FOREACH lane IN ARRAY candidates LOOP
                    EXIT WHEN cardinality(taken) >= wanted;
                    IF pg_try_advisory_lock(lock_class, lane) THEN
                        taken := taken || lane;
                    END IF;
                END LOOP;
                RETURN taken;
            END
            $$
            """,
        ]
    ]

    /// The version this build writes.
    static var current: Int { migrations.count }

    /// Checks the database's `synchronous_commit`, then brings the schema to `current` inside one
    /// transaction under the migration lock. A schema newer than `current` is refused and nothing is
    /// changed; so is a schema `encharge_spool` that holds no spool.
    static func prepare(
        _ connection: PostgresConnection, database: String, spool: String, logger: Logger
    ) async throws(SpoolError) {
        try await checkSynchronousCommit(connection, database: database, spool: spool, logger: logger)
        do {
            try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(lockClass), \(migrationKey))", logger: logger)
                let version = try await installedVersion(connection, spool: spool, logger: logger)
                guard version <= current else {
                    throw SpoolError(
                        kind: .open,
                        message:
                            "was written by a newer encharge-lua (schema \(version), this one knows \(current)); upgrade encharge-lua to open it",
                        path: spool)
                }
                for statements in migrations[version...] {
                    for statement in statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
                if version < current {
                    try await connection.query(
                        "UPDATE encharge_spool.schema_version SET version = \(current)", logger: logger)
                }
            }
        } catch {
            throw .postgres(error, kind: .open, spool: spool, doing: "cannot prepare the spool's tables")
        }
    }

    /// The schema version the database holds: 0 for a database without the spool's schema.
    private static func installedVersion(
        _ connection: PostgresConnection, spool: String, logger: Logger
    ) async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT to_regnamespace('encharge_spool') IS NOT NULL,
                   to_regclass('encharge_spool.schema_version') IS NOT NULL
            """, logger: logger
        ).collect()
        let (hasSchema, hasVersion) = try rows[0].decode((Bool, Bool).self)
        if !hasSchema { return 0 }
        guard hasVersion else {
            throw SpoolError(
                kind: .open,
                message:
                    "has a schema encharge_spool that is not an encharge-lua spool; drop it or use another database",
                path: spool)
        }
        let version = try await connection.query("SELECT version FROM encharge_spool.schema_version", logger: logger)
            .collect()
        guard let first = version.first else { return 0 }
        return Int(try first.decode(Int32.self))
    }

    /// Refuses a database whose commits may return before they are on disk: a 2xx must mean the
    /// events survive a crash of the database server.
    private static func checkSynchronousCommit(
        _ connection: PostgresConnection, database: String, spool: String, logger: Logger
    ) async throws(SpoolError) {
        let setting: String
        do {
            let rows = try await connection.query("SHOW synchronous_commit", logger: logger).collect()
            setting = try rows[0].decode(String.self)
        } catch {
            throw .postgres(error, kind: .open, spool: spool, doing: "cannot read synchronous_commit")
        }
        guard setting != "off" else {
            throw SpoolError(
                kind: .open,
                message:
                    "has synchronous_commit off, so an answered request could be lost in a crash; run ALTER DATABASE \(database) SET synchronous_commit = on (or fix it in postgresql.conf or the role's settings), then start again",
                path: spool)
        }
    }
}
