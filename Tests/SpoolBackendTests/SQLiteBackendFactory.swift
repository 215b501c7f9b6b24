import Foundation
import GRDB
import SystemKit
import TestSupport
import Testing

@testable import EnchargeSpool

/// `SQLiteSpool`: a file in its own temporary directory.
struct SQLiteBackendFactory: SpoolBackendFactory {
    var testDescription: String { "SQLite" }

    func makeLocation() async throws -> String {
        try TemporaryDirectory(prefix: "spool-backend").file("spool.db")
    }

    func open(_ location: String) async throws -> any EventSpool { try SQLiteSpool(path: location) }

    /// The writer thread is joined when the last reference goes, which is the caller's.
    func close(_ spool: any EventSpool) async {}

    func remove(_ location: String) async {
        try? FileManager.default.removeItem(atPath: (location as NSString).deletingLastPathComponent)
    }

    func transactionCount(_ spool: any EventSpool) -> Int {
        (spool as! SQLiteSpool).store.queue.withLock { $0.transactions }
    }

    /// A migration this version does not know, as a newer version records it.
    func markWrittenByNewerVersion(_ location: String) async throws {
        let queue = try DatabaseQueue(path: location)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        try queue.close()
    }

    /// Every table's schema and rows, read through a read-only connection.
    func fingerprint(_ location: String) async throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: location, configuration: configuration)
        defer { try? queue.close() }
        return try await queue.read { db in
            let tables = try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master ORDER BY type, name")
            var lines = tables.map { "\($0["name"] as String): \(($0["sql"] as String?) ?? "")" }
            for table in tables {
                let name: String = table["name"]
                guard (table["sql"] as String?)?.hasPrefix("CREATE TABLE") == true else { continue }
                lines += try Row.fetchAll(db, sql: "SELECT * FROM \(name.quotedDatabaseIdentifier)").map {
                    "\(name) \($0)"
                }
            }
            return lines
        }
    }
}
