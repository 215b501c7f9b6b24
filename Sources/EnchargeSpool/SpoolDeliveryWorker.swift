import EnchargeKit
import JSONKit
import Synchronization
import SystemKit

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
/// A refused write key: the `DeliveryEngine` counts 401/403 answers and stops after
/// `DeliveryConfiguration.refusalsBeforeStop` of them in a row (`DeliveryStop`); it hands every
/// event it did not send back as `.interrupted`, and the worker keeps those pending, never dead
/// (the key, not the event, is wrong). Once the engine stopped, the worker pauses: it reports the
/// refusal (`onKeyRefusal`, `refusedWriteKeyStatus`), and every `retryInterval` seconds sends the
/// oldest pending request alone through a fresh engine; once that is accepted it resumes with
/// everything after it. A redirect the engine must not follow pauses delivery the same way.
package final class SpoolDeliveryWorker: Sendable {
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
    package convenience init(
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
        core = WorkerCore(
            spool: spool, configuration: configuration, batchSize: batchSize, refusalPolicy: refusalPolicy,
            onKeyRefusal: onKeyRefusal ?? { _ in })
        try core.replaceEngine()
    }

    deinit {
        stop(timeout: 0)
    }

    /// Starts draining the spool on a background thread: everything pending now, then each new
    /// commit. Calling it again (or after `stop`) does nothing.
    package func start() {
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
    /// for up to `timeout` seconds (then requests on the wire are abandoned), and leaves every
    /// event not delivered or dead pending for the next start. Returns once the spool has recorded
    /// every settled event, true when the timeout ran out with events left pending. Blocks the
    /// calling thread meanwhile.
    @discardableResult
    package func stop(timeout: Double) -> Bool {
        let thread = phase.withLock { phase -> JoinableThread? in
            defer { phase = .stopped }
            if case .running(let thread) = phase { return thread }
            return nil
        }
        let engine = core.counters.withLock { values -> DeliveryEngine? in
            values.stopping = true
            return values.engine
        }
        core.counters.broadcast()
        core.spool.store.poke()
        let clock = ContinuousClock()
        let started = clock.now
        _ = engine?.finish(timeout: timeout)
        let ranOut = clock.now - started >= .seconds(timeout)
        if let thread, !thread.isCurrent { thread.join() }
        core.spool.store.waitForSettlements()
        return ranOut && core.counters.withLock { $0.interrupted > 0 }
    }

    /// `stop(timeout:)` for async code (a `Service.run`): the blocking part runs on its own
    /// thread, so no thread of Swift's cooperative pool waits for the drain. Returns true when the
    /// timeout ran out with events left pending.
    @discardableResult
    package func shutdown(timeout: Double) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let thread = JoinableThread.start { [self] in
                continuation.resume(returning: stop(timeout: timeout))
            }
            guard let thread else {
                continuation.resume(returning: stop(timeout: timeout))
                return
            }
            thread.detach()
        }
    }

    /// Counters since this worker was made: events delivered, retries scheduled, events given up on
    /// (kept dead in the spool), requests on the wire now, and the median and 99th percentile of
    /// request round-trip times in seconds (of the current engine).
    package func stats() -> (delivered: Int, retried: Int, dead: Int, inFlight: Int, p50: Double, p99: Double) {
        let (engine, base, dead) = core.counters.withLock { ($0.engine, $0.retired, $0.dead) }
        let now = engine?.stats() ?? DeliveryStats()
        return (
            base.delivered + now.delivered, base.retries + now.retries, dead, now.inFlight, now.p50Latency,
            now.p99Latency
        )
    }

    /// The last error reading the spool (the worker retries every second), or why delivery is
    /// paused on a redirect; nil when none happened.
    package var lastError: String? { core.counters.withLock { $0.lastError } }

    /// Waits until the spool has recorded every event settled so far (delivered ones deleted, dead
    /// ones marked), so a process that must exit now sends none of them again after its restart.
    package func recordSettlements() {
        core.spool.store.waitForSettlements()
    }

    /// The HTTP status (401 or 403) while delivery is paused because the Ingest API refuses the
    /// write key; nil while it delivers.
    package var refusedWriteKeyStatus: Int? { core.counters.withLock { $0.pausedStatus } }
}

/// What the worker's thread, the engine's settle hook, `stop` and `stats` share.
final class WorkerCounters: Sendable {
    struct Values {
        var dead = 0
        var stopping = false
        var lastError: String?
        /// The engine events go to now; replaced after it stopped on its own.
        var engine: DeliveryEngine?
        /// Delivered events and retries of the engines replaced so far.
        var retired = DeliveryStats()
        /// Events handed to the engine, and how many of them it settled since.
        var submitted = 0
        var settled = 0
        /// Events the engine handed back unsent because it stopped on its own (or a single 401/403),
        /// left pending, that the worker's cursor already passed.
        var keptBehindCursor = 0
        /// Events left pending because the stop's timeout ran out.
        var interrupted = 0
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
    let configuration: DeliveryConfiguration
    let counters = WorkerCounters()
    let batchSize: Int
    let refusalPolicy: WriteKeyRefusalPolicy
    let onKeyRefusal: @Sendable (Int?) -> Void

    init(
        spool: Spool, configuration: DeliveryConfiguration, batchSize: Int, refusalPolicy: WriteKeyRefusalPolicy,
        onKeyRefusal: @escaping @Sendable (Int?) -> Void
    ) {
        self.spool = spool
        self.configuration = configuration
        self.batchSize = batchSize
        self.refusalPolicy = refusalPolicy
        self.onKeyRefusal = onKeyRefusal
    }

    private var stopping: Bool { counters.withLock { $0.stopping } }
    private var keptBehindCursor: Bool { counters.withLock { $0.keptBehindCursor > 0 } }
    private var engine: DeliveryEngine? { counters.withLock { $0.engine } }

    /// Makes a new engine and sends through it from now on; the one it replaces (stopped on its
    /// own, nothing left in it) is finished and its counters kept. Does nothing once stopping, so
    /// `stop` always finishes the engine in use.
    func replaceEngine() throws(DeliveryError) {
        let store = spool.store
        let counters = self.counters
        // The engine writes no dead-letter file: the spool keeps dead events itself. Events it did
        // not send (interrupted, refused key, redirect) are left pending.
        let engine = try DeliveryEngine(
            configuration: configuration, deadLetters: nil, context: DeadLetterContext(),
            onSettled: { tag, outcome in
                switch outcome {
                // The spool hears of a settlement before the counters do, so a worker that saw
                // everything settled and then waits for the spool's writer reads no delivered row.
                case .delivered:
                    store.settle(.delivered(tag))
                    counters.settled { _ in }
                case .dead(let error):
                    store.settle(
                        .dead(
                            tag, reason: error.message, status: error.status, body: error.body,
                            attempts: error.attempts))
                    counters.settled { $0.dead += 1 }
                case .interrupted(let error) where error.kind == .interrupted:
                    counters.settled { $0.interrupted += 1 }
                case .interrupted:
                    counters.settled { $0.keptBehindCursor += 1 }
                    store.poke()
                }
            })
        let old = counters.withLock { values -> DeliveryEngine? in
            guard !values.stopping else { return engine }
            defer { values.engine = engine }
            return values.engine
        }
        guard let old else { return }
        let final = old.finish(timeout: 0)
        counters.withLock { values in
            values.retired.delivered += final.delivered
            values.retired.retries += final.retries
        }
    }

    /// The worker thread: read a batch after the cursor, submit it request by request (blocking on
    /// the engine's backpressure), repeat; when nothing is pending, sleep until a commit (or a second,
    /// for commits by another process).
    func run() {
        let store = spool.store
        var cursor: Int64 = 0
        while !stopping {
            if keptBehindCursor {
                cursor = recoverKeptEvents()
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
            while start < rows.count && !stopping && !keptBehindCursor {
                var end = start + 1
                while end < rows.count && rows[end].request == rows[start].request { end += 1 }
                submit(rows[start..<end])
                cursor = rows[end - 1].id
                start = end
            }
        }
    }

    /// The engine handed events back unsent and the cursor passed them. Waits until it settled
    /// everything it was given. If it still sends (a single refusal), reads the spool again from
    /// the start. If it stopped on its own, pauses: reports the refusal once, then every
    /// `retryInterval` sends the oldest pending request alone through a fresh engine, until one is
    /// accepted. Returns the cursor to go on from.
    private func recoverKeptEvents() -> Int64 {
        waitForEngineIdle()
        counters.withLock { $0.keptBehindCursor = 0 }
        guard !stopping, let stop = engine?.stop else { return 0 }
        report(stop)
        while !stopping {
            counters.wait(until: { $0.stopping }, timeout: refusalPolicy.retryInterval)
            guard !stopping else { return 0 }
            if engine?.stop != nil {
                do {
                    try replaceEngine()
                } catch {
                    counters.withLock { $0.lastError = error.description }
                    continue
                }
            }
            let probe: [PendingRow]
            do {
                probe = try spool.store.pendingRows(after: 0, limit: batchSize)
            } catch {
                counters.withLock { $0.lastError = error.description }
                continue
            }
            // Nothing pending: the next request's events are the probe.
            guard let first = probe.first else { return resume() }
            let request = probe.prefix { $0.request == first.request }
            submit(request)
            waitForEngineIdle()
            let refusedAgain = counters.withLock { values -> Bool in
                defer { values.keptBehindCursor = 0 }
                return values.keptBehindCursor > 0
            }
            if !refusedAgain { return resume(after: request.last?.id ?? 0) }
            if let stop = engine?.stop { report(stop) }
        }
        return 0
    }

    /// Waits until the engine settled every event it was given and the spool recorded them, so
    /// reading from the start finds no delivered event the writer has not deleted yet.
    private func waitForEngineIdle() {
        counters.wait(until: { $0.settled >= $0.submitted || $0.stopping })
        spool.store.waitForSettlements()
    }

    /// Notes why delivery is paused; a refused key is reported once per pause.
    private func report(_ stop: DeliveryStop) {
        switch stop {
        case .writeKeyRefused(let status):
            let newlyPaused = counters.withLock { values -> Bool in
                defer { values.pausedStatus = status }
                return values.pausedStatus == nil
            }
            if newlyPaused { onKeyRefusal(status) }
        case .redirected:
            counters.withLock { $0.lastError = stop.description }
        }
    }

    /// Ends a pause: the key (or endpoint) was accepted again.
    private func resume(after cursor: Int64 = 0) -> Int64 {
        let wasPaused = counters.withLock { values -> Bool in
            defer { values.pausedStatus = nil }
            return values.pausedStatus != nil
        }
        if wasPaused { onKeyRefusal(nil) }
        return cursor
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
        guard let engine else { return }
        counters.withLock { $0.submitted += events.count }
        engine.submit(events, source: "\(first.source) (request \(first.requestID))", tags: tags)
    }
}
