import EnchargeKit
import JSONKit

/// What a webhook server, `replay --spool`, `run --spool` and the delivery worker need from a
/// spool: durable acceptance of webhook events, the kept failed requests, and per-lane delivery.
/// `SQLiteSpool` (one machine, the default) and the PostgreSQL spool (many processes) implement
/// it; nothing above EnchargeCommands' opener names a backend.
///
/// Semantics every backend keeps (the shared suite in Tests/SpoolBackendTests checks them):
/// - Accept stores all events of a request in one transaction, in emission order, and returns only
///   after the commit is durable; concurrent callers share a transaction (group commit). A unique
///   constraint on the dedup key decides a duplicate, never a read followed by a write; a key whose
///   window ended may be accepted again.
/// - Spool order is the order of event ids, which is commit order: an event committed after a
///   `pendingEvents` call has a greater id than every event that call returned (the worker's lane
///   cursors rely on it; a backend whose ids come from a sequence must not let a smaller id
///   commit after a greater one became visible). Every event is stored with its lane,
///   `SpoolLanes.lane(ofIdentityKey:)`; within a lane, delivery follows spool order.
/// - A delivered event is deleted and counted; a dead one is kept with its reason, status, body,
///   attempts and time until `requeueDeadEvents` puts it after everything pending, in its old order.
/// - The schema is versioned and migrated on open; a spool a newer version wrote is refused with
///   one line, untouched.
package protocol EventSpool: AnyObject, Sendable {
    /// The file path, or the URL without its password: for messages and the listening line.
    var displayName: String { get }
    /// The fixed number of delivery lanes (`SpoolLanes.count`).
    var laneCount: Int { get }

    // MARK: Acceptance (from any async context)

    /// Durably stores the events of one accepted webhook request, all or nothing, in emission
    /// order, and returns only after the commit is durable; concurrent callers are group-committed.
    ///
    /// With a `dedupKey` (the sender's delivery id) accepted less than `dedupWindow` seconds ago,
    /// stores nothing and returns `.duplicate`. A request without events stores only its dedup key.
    /// `source` names the request in dead-event reports (e.g. `POST /stripe`).
    func accept(requestID: String, dedupKey: String?, events: [Event], source: String, dedupWindow: Double)
        async throws(SpoolError) -> SpoolAcceptResult

    /// Keeps a raw request whose rule failed, for replay after the rule is fixed; a second failure
    /// of the same `requestID` replaces the first. Durable when it returns. With a `cap`, the oldest
    /// kept requests beyond it are deleted in the same transaction; returns their ids, oldest first.
    func keepFailedRequest(
        requestID: String, request: JSONValue, error: String, traceback: String?, cap: SpoolKeptRequestCap?
    ) async throws(SpoolError) -> [String]

    /// Whether `dedupKey` was accepted and its window has not ended: the server answers such a
    /// request 200 without running the rule (a race between two copies is still decided by `accept`).
    func hasSeen(dedupKey: String) async throws(SpoolError) -> Bool

    /// Tries one small durable commit, updating `lastCommitFailure`: lets a server that stopped
    /// committing see the storage recover while no request arrives.
    func probeCommit() async

    /// The counts as last seen by this process: never blocks, so request handlers may read it.
    var cachedStats: SpoolStats { get }

    /// Why the last commit failed and how many seconds ago; nil once a commit succeeded.
    var lastCommitFailure: (reason: String, age: Double)? { get }

    // MARK: Administration (replay, status)

    /// What the spool holds now, read from storage.
    func stats() async throws(SpoolError) -> SpoolStats

    /// Puts every dead event back in line after everything pending now, in their old order, and
    /// returns how many; a running worker (in any process) picks them up.
    func requeueDeadEvents() async throws(SpoolError) -> Int

    /// Dead events in spool order, at most `limit`, with reason, last status and body, and attempts.
    func deadEvents(limit: Int) async throws(SpoolError) -> [SpoolDeadEvent]

    /// The kept failed requests, oldest first.
    func failedRequests() async throws(SpoolError) -> [SpoolFailedRequest]

    /// Forgets a kept failed request (after `replay` ran it again); no error when there is none.
    func deleteFailedRequest(_ requestID: String) async throws(SpoolError)

    // MARK: Delivery (only from the worker's own thread; may block it)

    /// Takes and gives back lanes so this process holds its fair share among the live delivering
    /// processes; never gives up a lane in `busy` (events of it are on the wire), and commits the
    /// settlements handed over so far before giving one up (the next holder reads it from its
    /// start). Returns the lanes held after the call; the worker calls it about every second, so
    /// it may also serve as this process's heartbeat. SQLite: every lane (only the holder of its
    /// `SpoolOwnerLock` delivers).
    func balanceLanes(busy: Set<Int>) throws(SpoolError) -> Set<Int>

    /// Pending events with an id above `cursor` in `lanes`, in spool order: at most `limit`, plus
    /// the rest of the last request's events in those lanes when the limit cut it.
    func pendingEvents(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError) -> [SpoolPendingEvent]

    /// Records how an event ended, batched into the backend's next commit (not durable at once: an
    /// event whose settlement is lost is sent again, at least once).
    func settle(_ settlement: SpoolSettlement)

    /// Waits until every settlement handed over before the call is committed (or failed).
    func waitForSettlements()

    /// A counter bumped by each commit that added pending events (this process's, or another's as
    /// the backend notices it) and by `wake`.
    var commitGeneration: UInt64 { get }

    /// Waits until `commitGeneration` differs from `generation`, or `timeout` seconds pass.
    func waitForCommit(after generation: UInt64, timeout: Double)

    /// Bumps `commitGeneration`, waking `waitForCommit` at once (stop, requeue, events handed back).
    func wake()
}

extension EventSpool {
    /// `accept` with a dedup window of one day.
    package func accept(requestID: String, dedupKey: String?, events: [Event], source: String)
        async throws(SpoolError) -> SpoolAcceptResult
    {
        try await accept(requestID: requestID, dedupKey: dedupKey, events: events, source: source, dedupWindow: 86_400)
    }

    /// `keepFailedRequest` without a cap.
    @discardableResult
    package func keepFailedRequest(requestID: String, request: JSONValue, error: String, traceback: String?)
        async throws(SpoolError) -> [String]
    {
        try await keepFailedRequest(
            requestID: requestID, request: request, error: error, traceback: traceback, cap: nil)
    }

    /// `deadEvents(limit:)` with a limit of 1000.
    package func deadEvents() async throws(SpoolError) -> [SpoolDeadEvent] { try await deadEvents(limit: 1000) }
}
