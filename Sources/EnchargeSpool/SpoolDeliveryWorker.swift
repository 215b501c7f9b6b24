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
public final class SpoolDeliveryWorker: Sendable {
    private let core: WorkerCore
    private let phase = Mutex(Phase.created)

    private enum Phase: Sendable {
        case created
        case running(JoinableThread)
        case stopped
    }

    /// Validates `configuration` and sets up the delivery engine (it sends nothing before `start`).
    public convenience init(spool: Spool, configuration: DeliveryConfiguration) throws {
        try self.init(spool: spool, configuration: configuration, batchSize: 500)
    }

    /// `init(spool:configuration:)` with the number of pending rows read per query.
    init(spool: Spool, configuration: DeliveryConfiguration, batchSize: Int) throws {
        precondition(batchSize >= 1)
        let counters = WorkerCounters()
        let store = spool.store
        // The engine writes no dead-letter file: the spool keeps dead events itself. Interrupted
        // events (stop's timeout ran out) are left pending for the next start.
        let engine = try DeliveryEngine(
            configuration: configuration, deadLetters: nil, context: DeadLetterContext(),
            onSettled: { tag, outcome in
                switch outcome {
                case .delivered:
                    store.settle(.delivered(tag))
                case .dead(let error):
                    counters.withLock { $0.dead += 1 }
                    store.settle(
                        .dead(
                            tag, reason: error.message, status: error.status, body: error.body,
                            attempts: error.attempts))
                case .interrupted:
                    break
                }
            })
        core = WorkerCore(spool: spool, engine: engine, counters: counters, batchSize: batchSize)
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
}

/// What the worker's thread, the engine's settle hook and `stats` share.
final class WorkerCounters: Sendable {
    struct Values {
        var dead = 0
        var stopping = false
        var lastError: String?
    }

    private let values = Mutex(Values())

    func withLock<R>(_ body: (inout Values) -> R) -> R { values.withLock { body(&$0) } }
}

/// The worker's shared half, held by its thread.
final class WorkerCore: Sendable {
    let spool: Spool
    let engine: DeliveryEngine
    let counters: WorkerCounters
    let batchSize: Int

    init(spool: Spool, engine: DeliveryEngine, counters: WorkerCounters, batchSize: Int) {
        self.spool = spool
        self.engine = engine
        self.counters = counters
        self.batchSize = batchSize
    }

    private var stopping: Bool { counters.withLock { $0.stopping } }

    /// The worker thread: read a batch after the cursor, submit it request by request (blocking on
    /// the engine's backpressure), repeat; when nothing is pending, sleep until a commit (or a second,
    /// for commits by another process).
    func run() {
        let store = spool.store
        var cursor: Int64 = 0
        while !stopping {
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
            while start < rows.count && !stopping {
                var end = start + 1
                while end < rows.count && rows[end].request == rows[start].request { end += 1 }
                submit(rows[start..<end])
                cursor = rows[end - 1].id
                start = end
            }
        }
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
        engine.submit(events, source: "\(first.source) (request \(first.requestID))", tags: tags)
    }
}
