import EnchargeKit
import GRDB
import JSONKit
import SystemKit

/// The spool's tables, created and upgraded by GRDB's migrator (one named migration per change;
/// a shipped migration is never edited).
///
/// ```sql
/// request(id INTEGER PRIMARY KEY AUTOINCREMENT,  -- spool (commit) order
///         request_id TEXT, source TEXT, accepted_at REAL)          -- Unix seconds
/// event(id INTEGER PRIMARY KEY AUTOINCREMENT,    -- spool order; the delivery engine's tag
///       request INTEGER REFERENCES request(id),  -- the accepted request it came from
///       json TEXT,                               -- the wire body, exactly what is POSTed
///       state TEXT,                              -- 'pending' or 'dead'; delivered rows are deleted
///       reason TEXT, http_status INTEGER, response_body TEXT, attempts INTEGER, settled_at REAL,
///       lane INTEGER,                            -- SpoolLanes.lane(ofIdentityKey: identity_key) (v2)
///       identity_key TEXT)                       -- Event.identityKey, the per-person key (v2)
/// dedup(key TEXT PRIMARY KEY, expires_at REAL)   -- delivery ids seen, until their window ends
/// failed_request(request_id TEXT PRIMARY KEY, request TEXT, error TEXT, traceback TEXT, failed_at REAL)
/// counter(name TEXT PRIMARY KEY, value INTEGER)  -- 'delivered': events delivered and deleted
/// ```
///
/// AUTOINCREMENT keeps ids growing even after rows are deleted, so id order is commit order for
/// the life of the file; a request's events have consecutive ids. A request row goes when its
/// last event is delivered.
enum SpoolSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE request (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        request_id TEXT NOT NULL,
                        source TEXT NOT NULL,
                        accepted_at REAL NOT NULL
                    );
                    CREATE TABLE event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        request INTEGER NOT NULL REFERENCES request(id),
                        json TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
                        reason TEXT,
                        http_status INTEGER,
                        response_body TEXT,
                        attempts INTEGER,
                        settled_at REAL
                    );
                    CREATE INDEX event_by_request ON event(request);
                    CREATE INDEX event_pending ON event(id) WHERE state = 'pending';
                    CREATE INDEX event_dead ON event(id) WHERE state = 'dead';
                    CREATE TABLE dedup (
                        key TEXT NOT NULL PRIMARY KEY,
                        expires_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX dedup_by_expiry ON dedup(expires_at);
                    CREATE TABLE failed_request (
                        request_id TEXT NOT NULL PRIMARY KEY,
                        request TEXT NOT NULL,
                        error TEXT NOT NULL,
                        traceback TEXT,
                        failed_at REAL NOT NULL
                    );
                    CREATE TABLE counter (
                        name TEXT NOT NULL PRIMARY KEY,
                        value INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    INSERT INTO counter (name, value) VALUES ('delivered', 0);
                    """)
        }
        // Each event's lane and identity key, stored at accept time so the worker reads a lane's
        // events and sends their bytes without parsing them. Events stored before are read once
        // here; a pending one that no longer validates is marked dead, as the worker did then.
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    ALTER TABLE event ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE event ADD COLUMN identity_key TEXT NOT NULL DEFAULT '';
                    """)
            try fillLanes(db)
        }
        return migrator
    }

    /// The newest schema this version knows, for the refusal of a newer spool.
    static var version: String { migrator.migrations.last ?? "v1" }

    /// Sets `lane` and `identity_key` of the events stored before v2, a thousand rows at a time.
    private static func fillLanes(_ db: Database) throws {
        let now = SystemClock.wallSeconds()
        let update = try db.makeStatement(sql: "UPDATE event SET lane = ?, identity_key = ? WHERE id = ?")
        let markDead = try db.makeStatement(
            sql: """
                UPDATE event SET state = 'dead', reason = ?, attempts = 0, settled_at = ? WHERE id = ? AND state = 'pending'
                """)
        var cursor: Int64 = 0
        while true {
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, json FROM event WHERE id > ? ORDER BY id LIMIT 1000", arguments: [cursor])
            guard let last = rows.last else { return }
            for row in rows {
                let id: Int64 = row[0]
                let json: String = row[1]
                do {
                    let key = try Event(validating: try JSONValue(parsing: json)).identityKey
                    try update.execute(arguments: [SpoolLanes.lane(ofIdentityKey: key), key, id])
                } catch {
                    try markDead.execute(arguments: ["the stored event is not valid: \(error)", now, id])
                }
            }
            cursor = last[0]
        }
    }

    /// Refuses a database that is not a spool (other tables, no spool migration) or that a newer
    /// version of encharge-lua upgraded (a migration this version does not know); an empty
    /// database is a new spool.
    static func checkIsSpool(_ db: Database, path: String) throws {
        let tables = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        if tables.isEmpty { return }
        let migrator = Self.migrator
        let applied = tables.contains("grdb_migrations") ? try migrator.appliedIdentifiers(db) : []
        guard applied.contains("v1") else {
            let shown = tables.prefix(5).joined(separator: ", ")
            throw SpoolError(
                kind: .open,
                message:
                    "is a SQLite database but not an encharge-lua spool (its tables: \(shown)); pass a spool or a new file to --spool",
                path: path)
        }
        let unknown = applied.subtracting(migrator.migrations).sorted()
        guard unknown.isEmpty else {
            throw SpoolError(
                kind: .open,
                message:
                    "was written by a newer encharge-lua (schema \(unknown.joined(separator: ", ")), this one knows \(version)); upgrade encharge-lua to open it",
                path: path)
        }
    }
}
