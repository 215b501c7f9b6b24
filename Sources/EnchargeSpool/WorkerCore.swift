import EnchargeKit
import SystemKit

/// The worker's shared half, held by its thread.
final class WorkerCore: Sendable {
    let spool: any EventSpool
    let configuration: DeliveryConfiguration
    let counters = WorkerCounters()
    let batchSize: Int
    let refusalPolicy: WriteKeyRefusalPolicy
    let onKeyRefusal: @Sendable (Int?) -> Void
    /// Seconds between two `balanceLanes` calls.
    let balanceInterval: Double

    init(
        spool: any EventSpool, configuration: DeliveryConfiguration, batchSize: Int,
        refusalPolicy: WriteKeyRefusalPolicy, balanceInterval: Double, onKeyRefusal: @escaping @Sendable (Int?) -> Void
    ) {
        self.spool = spool
        self.configuration = configuration
        self.batchSize = batchSize
        self.refusalPolicy = refusalPolicy
        self.balanceInterval = balanceInterval
        self.onKeyRefusal = onKeyRefusal
    }

    private var stopping: Bool { counters.withLock { $0.stopping } }
    private var keptBehindCursor: Bool { counters.withLock { $0.keptBehindCursor > 0 } }
    private var engine: DeliveryEngine? { counters.withLock { $0.engine } }

    /// Makes a new engine and sends through it from now on; the one it replaces is finished at once
    /// (whatever it still held is abandoned unsettled, so it stays pending) and its counters kept. Does nothing once stopping, so
    /// `stop` always finishes the engine in use.
    func replaceEngine() throws(DeliveryError) {
        let spool = self.spool
        let counters = self.counters
        // The engine writes no dead-letter file: the spool keeps dead events itself. Events it did
        // not send (interrupted, refused key, redirect) are left pending.
        let engine = try DeliveryEngine(
            configuration: configuration, deadLetters: nil, context: DeadLetterContext(),
            onSettled: { tag, outcome in
                switch outcome {
                // The spool hears of a settlement before the counters do, so a worker that saw
                // everything settled and then waits for the spool's commit reads no delivered row.
                case .delivered:
                    spool.settle(.delivered(tag))
                    counters.settled(tag) { _ in }
                case .dead(let error):
                    spool.settle(
                        .dead(
                            tag, reason: error.message, status: error.status, body: error.body,
                            attempts: error.attempts))
                    counters.settled(tag) { $0.dead += 1 }
                case .interrupted(let error) where error.kind == .interrupted:
                    counters.settled(tag) { $0.interrupted += 1 }
                case .interrupted:
                    counters.settled(tag) { $0.keptBehindCursor += 1 }
                    spool.wake()
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

    /// The worker thread: every `balanceInterval`, re-balance the lanes it holds; read a batch of
    /// the held lanes' pending events after their cursors, submit it request by request (blocking
    /// on the engine's backpressure), repeat; when nothing is pending, sleep until a commit (or
    /// `balanceInterval`, for commits the spool does not signal).
    func run() {
        var reader = LaneReader()
        var balancedAt = -Double.infinity
        while !stopping {
            if keptBehindCursor {
                recoverKeptEvents(&reader)
                reader.restart()
                continue
            }
            if SystemClock.monotonicSeconds() - balancedAt >= balanceInterval {
                balance(&reader)
                balancedAt = SystemClock.monotonicSeconds()
            }
            // Taken before `stopping` is checked again below: `stop` sets it, then wakes the spool,
            // so a stop after that check ends the wait for a commit at once.
            let generation = spool.commitGeneration
            let events: [SpoolPendingEvent]
            do {
                events = try spool.pendingEvents(after: reader.readFrom, lanes: reader.held, limit: batchSize)
            } catch {
                counters.withLock { $0.readFailure = error.description }
                spool.waitForCommit(after: generation, timeout: balanceInterval)
                continue
            }
            if stopping { break }
            let fresh = counters.withLock { values in
                // A read of no lane touched nothing: a failed balance (which left none) still stands.
                if !reader.held.isEmpty { values.readFailure = nil }
                return events.filter { reader.isUnread($0) && values.inFlight[$0.id] == nil }
            }
            var start = 0
            while start < fresh.count && !stopping && !keptBehindCursor
                && SystemClock.monotonicSeconds() - balancedAt < balanceInterval
            {
                var end = start + 1
                while end < fresh.count && fresh[end].request == fresh[start].request { end += 1 }
                submit(fresh[start..<end])
                reader.submitted(fresh[start..<end])
                start = end
            }
            guard start == fresh.count else { continue }
            reader.caughtUp(with: events, limit: batchSize)
            if fresh.isEmpty && events.count < batchSize {
                spool.waitForCommit(after: generation, timeout: balanceInterval)
            }
        }
    }

    /// Asks the spool for this process's share of lanes, offering up any lane with nothing on the
    /// wire. A failure leaves no lane held (another process may have taken them) until the next
    /// balance succeeds; events on the wire still settle. Before a newly held lane is read, this
    /// process's own settlements are committed, so none of its settled events reads as pending;
    /// its events on the wire then (of a lane it held before, lost after a failed balance) count as
    /// read: one settling after the wait may still read as pending, though no longer in flight.
    ///
    /// A lane with events on the wire that the spool no longer gives (its lock went with a lost
    /// connection and another process took it) is another process's now, which reads it from its
    /// start: every event on the wire is withdrawn unsettled (the engine is replaced at once, so
    /// nothing more of that lane goes out from here and per-person order holds; events already
    /// sent may reach the API twice) and the held lanes are read again from their start.
    private func balance(_ reader: inout LaneReader) {
        let busy = counters.withLock { Set($0.inFlight.values) }
        let lanes: Set<Int>
        do {
            lanes = try spool.balanceLanes(busy: busy)
        } catch {
            counters.withLock { $0.readFailure = error.description }
            reader.hold([])
            counters.withLock { $0.heldLanes = [] }
            return
        }
        let lost = busy.subtracting(lanes)
        if !lost.isEmpty {
            counters.withLock {
                $0.lastError = "lost lanes \(lost.sorted()) to another process; their events on the wire were withdrawn"
            }
            do {
                try replaceEngine()
            } catch {
                counters.withLock { $0.lastError = error.description }
            }
            waitForEngineIdle()
        }
        var onWire: [Int64: Int] = [:]
        if !lanes.isSubset(of: reader.held) {
            // Taken before the wait: an event that settles later has its settlement after the wait's.
            onWire = counters.withLock { $0.inFlight }
            spool.waitForSettlements()
        }
        reader.hold(lanes, onWire: onWire)
        if !lost.isEmpty { reader.restart() }
        counters.withLock { values in
            values.heldLanes = lanes
            values.readFailure = nil
        }
    }

    /// The engine handed events back unsent and the cursor passed them. Waits until it settled
    /// everything it was given. If it still sends (a single refusal), the caller reads the held
    /// lanes again from the start. If it stopped on its own, pauses: reports the refusal once,
    /// then every `retryInterval` sends the oldest pending request of the held lanes alone
    /// through a fresh engine, until one is accepted (lanes are re-balanced meanwhile).
    private func recoverKeptEvents(_ reader: inout LaneReader) {
        waitForEngineIdle()
        counters.withLock { $0.keptBehindCursor = 0 }
        guard !stopping, let stop = engine?.stop else { return }
        report(stop)
        while !stopping {
            pause(for: refusalPolicy.retryInterval, &reader)
            guard !stopping else { return }
            if engine?.stop != nil {
                do {
                    try replaceEngine()
                } catch {
                    counters.withLock { $0.lastError = error.description }
                    continue
                }
            }
            // Without a lane there is nothing to probe with; wait for the next balance.
            if reader.held.isEmpty { continue }
            let probe: [SpoolPendingEvent]
            do {
                probe = try spool.pendingEvents(after: 0, lanes: reader.held, limit: batchSize)
            } catch {
                counters.withLock { $0.readFailure = error.description }
                continue
            }
            counters.withLock { $0.readFailure = nil }
            // Nothing pending: the next request's events are the probe.
            guard let first = probe.first else { return resume() }
            let request = probe.prefix { $0.request == first.request }
            submit(request)
            waitForEngineIdle()
            let refusedAgain = counters.withLock { values -> Bool in
                defer { values.keptBehindCursor = 0 }
                return values.keptBehindCursor > 0
            }
            if !refusedAgain { return resume() }
            if let stop = engine?.stop { report(stop) }
        }
    }

    /// Waits `seconds` (or until stopping), re-balancing the lanes every `balanceInterval`: a
    /// paused process keeps its share, and hands lanes on when others join.
    private func pause(for seconds: Double, _ reader: inout LaneReader) {
        let end = SystemClock.monotonicSeconds() + seconds
        while !stopping {
            let left = end - SystemClock.monotonicSeconds()
            if left <= 0 { return }
            counters.wait(until: { $0.stopping }, timeout: min(left, balanceInterval))
            if !stopping { balance(&reader) }
        }
    }

    /// Waits until the engine settled every event it was given and the spool recorded them, so
    /// reading from the start finds no delivered event the spool has not deleted yet.
    private func waitForEngineIdle() {
        counters.wait(until: { $0.settled >= $0.submitted || $0.stopping })
        spool.waitForSettlements()
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

    /// Ends a pause: the key (or endpoint) was accepted again. The caller reads the held lanes
    /// again from the start; the probe's events are delivered, so they are not read again.
    private func resume() {
        let wasPaused = counters.withLock { values -> Bool in
            defer { values.pausedStatus = nil }
            return values.pausedStatus != nil
        }
        if wasPaused { onKeyRefusal(nil) }
    }

    /// Submits the events of one request (in the held lanes) as one group, built from their stored
    /// bytes: they were validated when accepted.
    private func submit(_ rows: ArraySlice<SpoolPendingEvent>) {
        guard let first = rows.first, let engine else { return }
        counters.withLock { values in
            values.submitted += rows.count
            for row in rows { values.inFlight[row.id] = row.lane }
        }
        engine.submit(
            rows.map { $0.event }, source: "\(first.source) (request \(first.requestID))", tags: rows.map { $0.id })
    }
}
