import EnchargeSpool
import TestSupport
import Testing

/// One spool backend the shared suites run against: how to make, open, inspect and remove a spool
/// of it. Each test makes its own spool, so backends need no cleanup between tests.
protocol SpoolBackendFactory: Sendable, CustomTestStringConvertible {
    /// Makes a new, empty spool and returns its `--spool` string (a file path, a database URL).
    func makeLocation() async throws -> String
    /// Opens the spool at `location` as `encharge-lua` would (migrating its schema).
    func open(_ location: String) async throws -> any EventSpool
    /// Closes a spool this factory opened (a second close does nothing): the next `open` must see
    /// everything it committed, and a closed spool holds no lane.
    func close(_ spool: any EventSpool) async
    /// Removes the spool at `location` and everything it holds.
    func remove(_ location: String) async
    /// Transactions the spool's writer committed so far (to see that concurrent accepts share them).
    func transactionCount(_ spool: any EventSpool) -> Int
    /// Marks the spool at `location` as written by a newer encharge-lua, as that version would.
    func markWrittenByNewerVersion(_ location: String) async throws
    /// Everything stored at `location`, one line per schema object and per row: equal before and
    /// after an open that must not touch it.
    func fingerprint(_ location: String) async throws -> [String]
}

/// The backends every shared suite runs against. A new backend is one more element here.
enum SpoolBackends {
    static let all: [any SpoolBackendFactory] = [
        SQLiteBackendFactory(),
        PostgresBackendFactory(),
    ]
}

extension SpoolBackendFactory {
    /// Runs `body` with a new spool location of this backend, then removes it.
    func withLocation<R>(_ body: (String) async throws -> R) async throws -> R {
        let location = try await makeLocation()
        do {
            let result = try await body(location)
            await remove(location)
            return result
        } catch {
            await remove(location)
            throw error
        }
    }

    /// Runs `body` with a new spool of this backend (and its location), then closes and removes it.
    func withSpool<R>(_ body: (any EventSpool, String) async throws -> R) async throws -> R {
        try await withLocation { location in
            let spool = try await open(location)
            do {
                let result = try await body(spool, location)
                await close(spool)
                return result
            } catch {
                await close(spool)
                throw error
            }
        }
    }
}

extension EventSpool {
    /// Pending events as the delivery worker reads them: on a thread of its own (the delivery calls
    /// block theirs, never one of Swift's cooperative pool), after taking this process's lanes, so
    /// only lanes it holds are read.
    func heldPendingEvents(after cursor: Int64 = 0, lanes: Set<Int> = SpoolLanes.all, limit: Int) async throws
        -> [SpoolPendingEvent]
    {
        try await onThread { [self] in
            _ = try balanceLanes(busy: [])
            return try pendingEvents(after: cursor, lanes: lanes, limit: limit)
        }
    }

    /// `waitForSettlements`, on a thread of its own.
    func settlementsCommitted() async throws {
        try await onThread { [self] in waitForSettlements() }
    }
}
