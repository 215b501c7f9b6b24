import EnchargeKit
import EnchargeSpool
import JSONKit
import Synchronization

/// A real `SQLiteSpool` whose lanes the test hands out, as another process's share would leave
/// them: `balanceLanes` returns `assigned` (plus any busy lane, which a spool never takes away,
/// unless `takeAway` says another process took it after a lost lock connection) and records each
/// `busy` it was offered. Everything else is the SQLite spool's own.
///
/// `loseLanes(thenOnRead:)` plays a spool whose balance failed (its lock connection was lost): one
/// balance throws, so the worker holds no lane until the next; the first read of lanes after it
/// calls a hook between reading and returning, as a read whose snapshot predates a settlement's
/// commit. `failBalances` makes every balance fail until it is called with false.
final class LaneAssignedSpool: EventSpool {
    let inner: SQLiteSpool
    private let state = Mutex(State())

    private struct State {
        var assigned: Set<Int> = []
        var busyOffers: [Set<Int>] = []
        var takenAway: Set<Int> = []
        var losing = false
        var afterRead: (@Sendable () -> Void)?
        var readHookArmed = false
        var failing = false
    }

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

    /// The next balance leaves no lane, busy ones included; the first read of lanes after it runs
    /// `hook` once it has read, before it returns.
    func loseLanes(thenOnRead hook: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.losing = true
            state.afterRead = hook
        }
    }

    /// Every balance fails while `failing` holds, as while PostgreSQL is down.
    func failBalances(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func balanceLanes(busy: Set<Int>) throws(SpoolError) -> Set<Int> {
        let lanes = state.withLock { state -> Set<Int>? in
            if !busy.isEmpty { state.busyOffers.append(busy) }
            if state.failing { return nil }
            if state.losing {
                state.losing = false
                state.readHookArmed = true
                return nil
            }
            return state.assigned.union(busy.subtracting(state.takenAway))
        }
        guard let lanes else {
            throw SpoolError(
                kind: .storage, message: "lost the connection holding the lanes", path: inner.displayName)
        }
        return lanes
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
        let events = try inner.pendingEvents(after: cursor, lanes: lanes, limit: limit)
        let hook = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.readHookArmed, !lanes.isEmpty else { return nil }
            state.readHookArmed = false
            defer { state.afterRead = nil }
            return state.afterRead
        }
        hook?()
        return events
    }
    func settle(_ settlement: SpoolSettlement) { inner.settle(settlement) }
    func waitForSettlements() { inner.waitForSettlements() }
    func waitForCommit(after generation: UInt64, timeout: Double) {
        inner.waitForCommit(after: generation, timeout: timeout)
    }
    func wake() { inner.wake() }
}
