import Foundation
import GRDB
import TestSupport
import Testing

@testable import EnchargeSpool

/// Who may open a spool file and what it must be: one owner at a time, a real spool of a version
/// this build knows, files only their owner can read.
@Suite struct SpoolOwnershipTests {
    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
    }

    @Test func aSecondOwnerOfOneSpoolIsRefusedAndTheLockGoesWithItsHolder() throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        var first: SpoolOwnerLock? = try SpoolOwnerLock(spoolPath: path, command: "serve")
        let error = #expect(throws: SpoolError.self) { try SpoolOwnerLock(spoolPath: path, command: "deliver") }
        #expect(
            error?.description
                == "\(path): is in use by another encharge-lua serve (pid \(getpid())); stop that one first, or give this one its own --spool"
        )
        #expect(mode(path + ".lock") == 0o600)
        first = nil
        _ = first
        // Released with its holder (the kernel releases it when a process dies, too).
        _ = try SpoolOwnerLock(spoolPath: path, command: "serve")
    }

    @Test(arguments: [
        ("42 deliver\n", "another encharge-lua deliver (pid 42)"),
        ("42 serve\n", "another encharge-lua serve (pid 42)"),
        // A lock file an older version wrote: the pid alone.
        ("42\n", "another encharge-lua process (pid 42)"),
        ("", "another encharge-lua process"),
        ("x rm -rf\n", "another encharge-lua process"),
    ])
    func theOwnerIsNamedFromWhatItsLockFileHolds(text: String, owner: String) {
        #expect(SpoolOwnerLock.owner(described: text) == owner)
    }

    @Test func aNewSpoolAndItsWriteAheadLogAreReadableByTheirOwnerOnly() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let old = umask(0o022)
        defer { umask(old) }
        let spool = try SQLiteSpool(path: path)
        _ = try await spool.accept(
            requestID: "r1", dedupKey: nil, events: [SpoolFixture.track("p", seq: 1)], source: "test")
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(mode(file) == 0o600, "\(file) is readable by others")
        }
    }

    @Test func aSQLiteFileThatIsNotASpoolIsRefusedAndLeftAlone() throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        }
        try queue.close()
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(path: path) }
        #expect(
            error?.description
                == "\(path): is a SQLite database but not an encharge-lua spool (its tables: customers); pass a spool or a new file to --spool"
        )
        let tables = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(tables == ["customers"], "the file was changed")
    }

    @Test func aFileThatIsNotSQLiteIsRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        try String(repeating: "email,name\nann@example.com,Ann\n", count: 200).write(
            toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(path: path) }
        #expect(
            error?.description
                == "\(path): is not a SQLite database, so not a spool; pass a spool or a new file to --spool")
    }

    @Test func aSpoolWrittenByANewerVersionIsRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        do { _ = try SQLiteSpool(path: path) }
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2-partitioned-events')")
        }
        try queue.close()
        let error = #expect(throws: SpoolError.self) { try SQLiteSpool(path: path) }
        #expect(
            error?.description
                == "\(path): was written by a newer encharge-lua (schema v2-partitioned-events, this one knows v2); upgrade encharge-lua to open it"
        )
    }

    @Test func anEmptyFileAndAnExistingSpoolOpen() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        do {
            let spool = try SQLiteSpool(path: path)
            _ = try await spool.accept(
                requestID: "r1", dedupKey: "k", events: [SpoolFixture.track("p", seq: 1)], source: "test")
        }
        let reopened = try SQLiteSpool(path: path)
        #expect(try await reopened.stats().pending == 1)
    }
}
