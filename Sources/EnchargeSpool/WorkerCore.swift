import EnchargeKit
import JSONKit
import Synchronization
import SystemKit

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
