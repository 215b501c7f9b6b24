import EnchargeKit
import EnchargeSpool
import JSONKit
import Synchronization

/// A real `SQLiteSpool` whose lanes the test hands out, as another process's share would leave
/// them: `balanceLanes` returns `assigned` (plus any busy lane, which a spool never takes away,
/// unless `takeAway` says another process took it after a lost lock connection) and records each
/// `busy` it was offered. Everything else is the SQLite spool's own.
final class LaneAssignedSpool: EventSpool {
    let inner: SQLiteSpool
    private let state = Mutex((assigned: Set<Int>(), busyOffers: [Set<Int>](), takenAway: Set<Int>()))

    init(_ inner: SQLiteSpool, assigned: Set<Int>) {
        self.inner = inner
        state.withLock { $0.assigned = assigned }
    }

    /// The lanes this process gets from its next balance on.
    func assign(_ lanes: Set<Int>) {
        state.withLock { state in
            state.assigned = lanes
            state.takenAway.subtract(lanes)
        }
    }
    /// Lanes another process took, busy or not (as after this process's lock connection was lost),
    /// until they are assigned again.
    func takeAway(_ lanes: Set<Int>) {
        state.withLock { state in
            state.assigned.subtract(lanes)
            state.takenAway.formUnion(lanes)
        }
    }
    /// Every non-empty `busy` set the worker offered so far.
    var busyOffers: [Set<Int>] { state.withLock { $0.busyOffers } }

    func balanceLanes(busy: Set<Int>) throws(SpoolError) -> Set<Int> {
        state.withLock { state in
            if !busy.isEmpty { state.busyOffers.append(busy) }
            return state.assigned.union(busy.subtracting(state.takenAway))
        }
    }

    var displayName: String { inner.displayName }
    var laneCount: Int { inner.laneCount }
    var cachedStats: SpoolStats { inner.cachedStats }
    var lastCommitFailure: (reason: String, age: Double)? { inner.lastCommitFailure }
    var commitGeneration: UInt64 { inner.commitGeneration }

    func accept(requestID: String, dedupKey: String?, events: [Event], source: String, dedupWindow: Double)
        async throws(SpoolError) -> SpoolAcceptResult
    {
        try await inner.accept(
            requestID: requestID, dedupKey: dedupKey, events: events, source: source, dedupWindow: dedupWindow)
    }
    func keepFailedRequest(
        requestID: String, request: JSONValue, error: String, traceback: String?, cap: SpoolKeptRequestCap?
    ) async throws(SpoolError) -> [String] {
        try await inner.keepFailedRequest(
            requestID: requestID, request: request, error: error, traceback: traceback, cap: cap)
    }
    func hasSeen(dedupKey: String) async throws(SpoolError) -> Bool { try await inner.hasSeen(dedupKey: dedupKey) }
    func probeCommit() async { await inner.probeCommit() }
    func stats() async throws(SpoolError) -> SpoolStats { try await inner.stats() }
    func requeueDeadEvents() async throws(SpoolError) -> Int { try await inner.requeueDeadEvents() }
    func deadEvents(limit: Int) async throws(SpoolError) -> [SpoolDeadEvent] {
        try await inner.deadEvents(limit: limit)
    }
    func failedRequests() async throws(SpoolError) -> [SpoolFailedRequest] { try await inner.failedRequests() }
    func deleteFailedRequest(_ requestID: String) async throws(SpoolError) {
        try await inner.deleteFailedRequest(requestID)
    }
    func pendingEvents(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError) -> [SpoolPendingEvent] {
        try inner.pendingEvents(after: cursor, lanes: lanes, limit: limit)
    }
    func settle(_ settlement: SpoolSettlement) { inner.settle(settlement) }
    func waitForSettlements() { inner.waitForSettlements() }
    func waitForCommit(after generation: UInt64, timeout: Double) {
        inner.waitForCommit(after: generation, timeout: timeout)
    }
    func wake() { inner.wake() }
}
