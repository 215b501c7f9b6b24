import EnchargeKit
import JSONKit
import Synchronization

/// Drains a `Spool` into the Encharge Ingest API with the delivery semantics of `run`: per-person
/// order, bounded concurrency, retries with backoff, and dead events kept in the spool (reason,
/// last status and body, attempts) instead of a dead-letter file.
///
/// Order: the events of one request go to the `DeliveryEngine` as one group in their stored order,
/// and requests go in spool (commit) order, so per-person order holds across requests and across
/// restarts. On `start`, everything pending is submitted again from the beginning of the spool,
/// events that were on the wire when the process died included.
///
/// At least once: an event is deleted from the spool (delivered) or marked dead when the engine
/// settles it, in the writer's next group commit. An event the API accepted but the spool had not
/// yet marked when the process was killed is sent again after the restart.
///
/// Memory: the worker reads pending events in batches of `batchSize` (a request is never split) and
/// `DeliveryEngine.submit` blocks while `maxQueuedEvents` are queued, so neither the spool nor the
/// backlog is ever held in memory. A worker starts once; after `stop`, make a new one to resume.
///
/// A refused write key: an event answered 401 or 403 is never marked dead (the key, not the event,
/// is wrong); it stays pending. After `WriteKeyRefusalPolicy.refusalsInARow` such answers in a
/// row the worker pauses: it reports the refusal (`onKeyRefusal`, `refusedWriteKeyStatus`), sends
/// nothing for `retryInterval` seconds, then sends the oldest pending request alone; once that is
/// accepted it resumes with everything after it.
public final class SpoolDeliveryWorker: Sendable {
    private let core: WorkerCore
    private let phase = Mutex(Phase.created)

    private enum Phase: Sendable {
        case created
        case running(JoinableThread)
        case stopped
    }

    /// Validates `configuration` and sets up the delivery engine (it sends nothing before `start`).
    /// `onKeyRefusal` hears the HTTP status when delivery pauses on a refused write key, and nil
    /// when the key is accepted again; it runs on the worker's thread.
    public convenience init(
        spool: Spool, configuration: DeliveryConfiguration, refusalPolicy: WriteKeyRefusalPolicy = .init(),
        onKeyRefusal: (@Sendable (Int?) -> Void)? = nil
    ) throws {
        try self.init(
            spool: spool, configuration: configuration, batchSize: 500, refusalPolicy: refusalPolicy,
            onKeyRefusal: onKeyRefusal)
    }

    /// `init(spool:configuration:)` with the number of pending rows read per query.
    init(
        spool: Spool, configuration: DeliveryConfiguration, batchSize: Int,
        refusalPolicy: WriteKeyRefusalPolicy = .init(), onKeyRefusal: (@Sendable (Int?) -> Void)? = nil
    ) throws {
        precondition(batchSize >= 1)
        let counters = WorkerCounters()
        let store = spool.store
        // The engine writes no dead-letter file: the spool keeps dead events itself. Interrupted
        // events (stop's timeout ran out) and refused ones (401/403: the key) are left pending.
        let engine = try DeliveryEngine(
            configuration: configuration, deadLetters: nil, context: DeadLetterContext(),
            onSettled: { tag, outcome in
                switch outcome {
                // The spool hears of a settlement before the counters do, so a worker that saw
                // everything settled and then waits for the spool's writer reads no delivered row.
                case .delivered:
                    store.settle(.delivered(tag))
                    counters.settled { $0.consecutiveRefusals = 0 }
                case .dead(let error) where WriteKeyRefusalPolicy.refusesKey(error.status):
                    counters.settled { values in
                        values.consecutiveRefusals += 1
                        values.refusedBehindCursor += 1
                        values.lastRefusedStatus = error.status
                    }
                    store.poke()
                case .dead(let error):
                    store.settle(
                        .dead(
                            tag, reason: error.message, status: error.status, body: error.body,
                            attempts: error.attempts))
                    counters.settled { $0.dead += 1 }
                case .interrupted:
                    counters.settled { _ in }
                }
            })
        core = WorkerCore(
            spool: spool, engine: engine, counters: counters, batchSize: batchSize, refusalPolicy: refusalPolicy,
            onKeyRefusal: onKeyRefusal ?? { _ in })
    }

    deinit {
        stop(timeout: 0)
    }

    /// Starts draining the spool on a background thread: everything pending now, then each new
    /// commit. Calling it again (or after `stop`) does nothing.
    public func start() {
        phase.withLock { phase in
            guard case .created = phase else { return }
            let core = self.core
            guard let thread = JoinableThread.start({ core.run() }) else {
                core.counters.withLock { $0.lastError = "cannot start the spool delivery thread" }
                phase = .stopped
                return
            }
            phase = .running(thread)
        }
    }

    /// Stops taking pending events from the spool, lets the engine deliver what it already holds
    /// for up to `timeout` seconds (requests on the wire then finish, at most `requestTimeout`),
    /// and leaves every event not delivered or dead pending for the next start. Returns once the
    /// spool has recorded every settled event. Blocks the calling thread meanwhile.
    public func stop(timeout: Double) {
        let thread = phase.withLock { phase -> JoinableThread? in
            defer { phase = .stopped }
            if case .running(let thread) = phase { return thread }
            return nil
        }
        core.counters.withLock { $0.stopping = true }
        core.counters.broadcast()
        core.spool.store.poke()
        _ = core.engine.finish(timeout: timeout)
        if let thread, !thread.isCurrent { thread.join() }
        core.spool.store.waitForSettlements()
    }

    /// `stop(timeout:)` for async code (a `Service.run`): the blocking part runs on its own
    /// thread, so no thread of Swift's cooperative pool waits for the drain.
    public func shutdown(timeout: Double) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = JoinableThread.start { [self] in
                stop(timeout: timeout)
                continuation.resume()
            }
            guard let thread else {
                stop(timeout: timeout)
                continuation.resume()
                return
            }
            thread.detach()
        }
    }

    /// Counters since this worker was made: events delivered, retries scheduled, events given up on
    /// (kept dead in the spool), requests on the wire now, and the median and 99th percentile of
    /// request round-trip times in seconds.
    public func stats() -> (delivered: Int, retried: Int, dead: Int, inFlight: Int, p50: Double, p99: Double) {
        let engine = core.engine.stats()
        let dead = core.counters.withLock { $0.dead }
        return (engine.delivered, engine.retries, dead, engine.inFlight, engine.p50Latency, engine.p99Latency)
    }

    /// The last error reading the spool (the worker retries every second), nil when none happened.
    public var lastError: String? { core.counters.withLock { $0.lastError } }

    /// Waits until the spool has recorded every event settled so far (delivered ones deleted, dead
    /// ones marked), so a process that must exit now sends none of them again after its restart.
    public func recordSettlements() {
        core.spool.store.waitForSettlements()
    }

    /// The HTTP status (401 or 403) while delivery is paused because the Ingest API refuses the
    /// write key; nil while it delivers.
    public var refusedWriteKeyStatus: Int? { core.counters.withLock { $0.pausedStatus } }
}

/// When `SpoolDeliveryWorker` treats 401/403 answers as a refused write key and pauses.
public struct WriteKeyRefusalPolicy: Sendable, Hashable {
    /// Refused answers in a row (no delivery between them) that pause delivery.
    public var refusalsInARow: Int
    /// Seconds between attempts while paused.
    public var retryInterval: Double

    public init(refusalsInARow: Int = 3, retryInterval: Double = 30) {
        self.refusalsInARow = max(1, refusalsInARow)
        self.retryInterval = retryInterval.isNaN ? 30 : max(0, retryInterval)
    }

    /// Whether an answer with `status` refuses the key rather than the event.
    static func refusesKey(_ status: Int?) -> Bool { status == 401 || status == 403 }
}

/// What the worker's thread, the engine's settle hook and `stats` share.
final class WorkerCounters: Sendable {
    struct Values {
        var dead = 0
        var stopping = false
        var lastError: String?
        /// Events handed to the engine, and how many of them it settled since.
        var submitted = 0
        var settled = 0
        /// 401/403 answers since the last delivery.
        var consecutiveRefusals = 0
        /// Refused events left pending that the worker's cursor already passed.
        var refusedBehindCursor = 0
        var lastRefusedStatus: Int?
        /// Set while delivery is paused on a refused key.
        var pausedStatus: Int?
    }

    private let values = ConditionLock(Values())

    func withLock<R>(_ body: (inout Values) -> R) -> R { values.withLock { body(&$0) } }

    /// Counts one settled event (after `change`) and wakes a worker waiting for the engine to idle.
    func settled(_ change: (inout Values) -> Void) {
        values.withLock { values in
            change(&values)
            values.settled += 1
        }
        values.broadcast()
    }

    /// Waits until `ready` holds or `timeout` seconds pass.
    func wait(until ready: (Values) -> Bool, timeout: Double? = nil) {
        values.withLock(whenReady: ready, timeout: timeout) { _ in }
    }

    func broadcast() { values.broadcast() }
}

/// The worker's shared half, held by its thread.
final class WorkerCore: Sendable {
    let spool: Spool
    let engine: DeliveryEngine
    let counters: WorkerCounters
    let batchSize: Int
    let refusalPolicy: WriteKeyRefusalPolicy
    let onKeyRefusal: @Sendable (Int?) -> Void

    init(
        spool: Spool, engine: DeliveryEngine, counters: WorkerCounters, batchSize: Int,
        refusalPolicy: WriteKeyRefusalPolicy, onKeyRefusal: @escaping @Sendable (Int?) -> Void
    ) {
        self.spool = spool
        self.engine = engine
        self.counters = counters
        self.batchSize = batchSize
        self.refusalPolicy = refusalPolicy
        self.onKeyRefusal = onKeyRefusal
    }

    private var stopping: Bool { counters.withLock { $0.stopping } }
    private var refusedBehindCursor: Bool { counters.withLock { $0.refusedBehindCursor > 0 } }

    /// The worker thread: read a batch after the cursor, submit it request by request (blocking on
    /// the engine's backpressure), repeat; when nothing is pending, sleep until a commit (or a second,
    /// for commits by another process).
    func run() {
        let store = spool.store
        var cursor: Int64 = 0
        while !stopping {
            if refusedBehindCursor {
                cursor = recoverFromRefusals()
                continue
            }
            let generation = store.commits.withLock { $0 }
            let rows: [PendingRow]
            do {
                rows = try store.pendingRows(after: cursor, limit: batchSize)
            } catch {
                counters.withLock { $0.lastError = error.description }
                store.commits.withLock(whenReady: { [self] _ in stopping }, timeout: 1) { _ in }
                continue
            }
            if rows.isEmpty {
                store.commits.withLock(whenReady: { [self] in $0 != generation || stopping }, timeout: 1) { _ in }
                continue
            }
            var start = 0
            while start < rows.count && !stopping && !refusedBehindCursor {
                var end = start + 1
                while end < rows.count && rows[end].request == rows[start].request { end += 1 }
                submit(rows[start..<end])
                cursor = rows[end - 1].id
                start = end
            }
        }
    }

    /// Some events were refused (401/403) and left pending behind the cursor. Waits until the
    /// engine settled everything it was given; then, after fewer refusals in a row than the policy
    /// allows, reads the spool again from the start. After more, pauses: reports the refusal once,
    /// waits `retryInterval`, and sends the oldest pending request alone. Returns the cursor to go
    /// on from.
    private func recoverFromRefusals() -> Int64 {
        counters.wait(until: { $0.settled >= $0.submitted || $0.stopping })
        // Reading from the start must not find delivered events the writer has not deleted yet.
        spool.store.waitForSettlements()
        let (inARow, status) = counters.withLock { values in
            values.refusedBehindCursor = 0
            return (values.consecutiveRefusals, values.lastRefusedStatus ?? 401)
        }
        guard !stopping, inARow >= refusalPolicy.refusalsInARow else { return 0 }
        let newlyPaused = counters.withLock { values -> Bool in
            defer { values.pausedStatus = status }
            return values.pausedStatus == nil
        }
        if newlyPaused { onKeyRefusal(status) }
        counters.wait(until: { $0.stopping }, timeout: refusalPolicy.retryInterval)
        guard !stopping else { return 0 }
        let probe: [PendingRow]
        do {
            probe = try spool.store.pendingRows(after: 0, limit: 1)
        } catch {
            counters.withLock { $0.lastError = error.description }
            counters.withLock { $0.refusedBehindCursor = 1 }
            return 0
        }
        guard let first = probe.first else {
            // Nothing pending: the next request's events are the probe.
            return 0
        }
        let request = probe.prefix { $0.request == first.request }
        submit(request)
        counters.wait(until: { $0.settled >= $0.submitted || $0.stopping })
        spool.store.waitForSettlements()
        let accepted = counters.withLock { values -> Bool in
            guard values.refusedBehindCursor == 0 else { return false }
            values.consecutiveRefusals = 0
            values.pausedStatus = nil
            return true
        }
        if accepted { onKeyRefusal(nil) }
        return request.last?.id ?? 0
    }

    /// Submits the events of one request as one group; an event that no longer reads back as a
    /// valid event (the file was edited, or a later version validates more strictly) is marked dead.
    private func submit(_ rows: ArraySlice<PendingRow>) {
        var events: [Event] = []
        var tags: [Int64] = []
        events.reserveCapacity(rows.count)
        tags.reserveCapacity(rows.count)
        for row in rows {
            do {
                events.append(try Event(validating: try JSONValue(parsing: row.json)))
                tags.append(row.id)
            } catch {
                counters.withLock { $0.dead += 1 }
                let reason = "the stored event is not valid: \(error)"
                spool.store.settle(.dead(row.id, reason: reason, status: nil, body: nil, attempts: 0))
            }
        }
        guard let first = rows.first, !events.isEmpty else { return }
        counters.withLock { $0.submitted += events.count }
        engine.submit(events, source: "\(first.source) (request \(first.requestID))", tags: tags)
    }
}
