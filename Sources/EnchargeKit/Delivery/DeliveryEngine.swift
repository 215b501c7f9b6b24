import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Delivers events to the Encharge Ingest API from one background thread, in per-person order,
/// with bounded concurrency, retries and dead letters, behind a blocking API for a plain loop.
///
/// Every submitted event ends delivered or dead-lettered with a reason. Events of one `submit` go
/// strictly in order (an `identify` is never overtaken by the `track` after it), and events with
/// the same identity key go in submit order, even while an earlier one is being retried; everyone
/// else goes in parallel (see `DeliverySchedule`). When an event is dead-lettered the events after
/// it still go out.
///
/// Stopping: `finish` waits for everything; `finish(timeout:)` and `interrupt(drainTimeout:)` bound
/// the wait and then abandon requests on the wire. The engine also stops on its own when retrying
/// cannot help any event (`DeliveryStop`: a refused write key, a redirect it must not follow). Once
/// stopped or interrupted, nothing new is sent, and when no request is on the wire any more, every
/// event left (and every event submitted later) is dead-lettered in submit order, so per-person
/// order holds in the dead-letter file too.
///
/// Threads: the caller's thread runs `submit`/`finish`/`stats`; one dedicated delivery thread owns
/// the libcurl handles and makes every request. They share only `DeliveryCore.state`, under its lock.
public final class DeliveryEngine: Sendable {
    private let core: DeliveryCore
    /// Runs `DeliveryCore.run` and owns the transport; joined exactly once, by the `finish` call
    /// that claims `EngineState.joined`.
    private let thread: JoinableThread

    /// Validates the configuration, sets up libcurl and starts the delivery thread.
    ///
    /// Events given up on are appended to `deadLetters`; with nil they go nowhere but `onSettled`
    /// (the webhook spool keeps them in its database instead). `onSettled` hears how every event
    /// submitted with tags ended; untagged events are not reported.
    public init(
        configuration: DeliveryConfiguration, deadLetters: DeadLetterWriter?, context: DeadLetterContext,
        onSettled: DeliverySettledHandler? = nil
    ) throws(DeliveryError) {
        try configuration.validate()
        let transport = try IngestTransport(configuration: configuration)
        core = DeliveryCore(
            configuration: configuration, deadLetters: deadLetters, context: context, onSettled: onSettled,
            waker: transport.waker)
        let core = self.core
        do {
            // The closure takes the only reference to the transport, so it is freed on the delivery
            // thread when `run` returns.
            thread = try JoinableThread { core.run(transport: transport) }
        } catch {
            throw DeliveryError(kind: .configuration, message: "cannot start the delivery thread (error \(error.code))")
        }
    }

    deinit {
        _ = finish(timeout: 0)
    }

    /// Enqueues the events one input record (or webhook request) emitted, in emission order. Blocks
    /// while `maxQueuedEvents` events are queued (backpressure); `interrupt(drainTimeout:)` and
    /// `finish` wake it. After `finish` the events are dead-lettered at once as interrupted;
    /// after a stop they are dead-lettered in order after the events submitted before them.
    public func submit(_ events: [Event], source: String) {
        enqueue(events, source: source, tags: nil)
    }

    /// `submit(_:source:)` with one opaque tag per event (`tags.count == events.count`), handed back
    /// to `onSettled` when the event is delivered, dead or interrupted; a caller that keeps events
    /// elsewhere (the webhook spool: its row ids) marks them settled from there.
    public func submit(_ events: [Event], source: String, tags: [Int64]) {
        precondition(tags.count == events.count, "submit needs one tag per event")
        enqueue(events, source: source, tags: tags)
    }

    private func enqueue(_ events: [Event], source: String, tags: [Int64]?) {
        guard !events.isEmpty else { return }
        let limit = core.configuration.maxQueuedEvents
        let concurrency = core.configuration.concurrency
        let waker = core.waker
        // An interrupt (which sets `abandonAt`) wakes a blocked submit at once; after a stop of its
        // own the engine frees room within `requestTimeout`, and memory stays bounded meanwhile.
        let accepted = core.state.withLock(whenReady: { $0.queued < limit || $0.closing || $0.abandonAt != nil }) {
            state -> Bool in
            if state.firstSubmitAt == nil { state.firstSubmitAt = SystemClock.monotonicSeconds() }
            state.submitted += events.count
            if state.closing {
                state.deadLettered += events.count
                return false
            }
            state.queued += events.count
            let ready = state.schedule.add(events, source: source, tags: tags)
            // Stopped, the thread dead-letters the new group once nothing is on the wire.
            let wanted = state.halt != nil || (ready && state.running.count < concurrency)
            if wanted && state.sleeping && state.threadAlive {
                state.sleeping = false
                waker.wake()
            }
            return true
        }
        guard !accepted else { return }
        let error = DeliveryError(kind: .interrupted, message: "interrupted: submitted after finish")
        core.write(
            events.indices.map {
                PendingDeadLetter(event: events[$0], error: error, source: source, tag: tags?[$0])
            })
    }

    /// Stops taking new work and waits until every queued event is delivered or dead-lettered. With
    /// a `timeout` (seconds), once it passes no new request starts, requests on the wire are
    /// abandoned (their events too may have reached the API), and every event left is dead-lettered
    /// with reason "interrupted". Returns the final stats; calling it again returns them again.
    public func finish(timeout: Double?) -> DeliveryStats {
        let waker = core.waker
        core.state.withLock { state in
            state.closing = true
            if let timeout {
                let deadline = SystemClock.monotonicSeconds() + max(0, timeout.isNaN ? 0 : timeout)
                state.deadline = min(state.deadline ?? deadline, deadline)
            }
            if state.threadAlive && state.sleeping {
                state.sleeping = false
                waker.wake()
            }
        }
        // Every submit blocked on backpressure now sees `closing`.
        core.state.broadcast()
        let join = core.state.withLock(whenReady: { $0.drained }) { state -> Bool in
            defer { state.joined = true }
            return !state.joined
        }
        if join { thread.join() }
        return stats()
    }

    /// Stops sending now, for an interrupt (Ctrl-C): no new request starts, `submit` no longer
    /// blocks, requests on the wire get up to `drainTimeout` seconds and are then abandoned, and
    /// every event not delivered is dead-lettered with reason "interrupted". It does not wait: call
    /// `finish` for that. Calling it again can only shorten the drain (a second Ctrl-C passes 0).
    public func interrupt(drainTimeout: Double) {
        let waker = core.waker
        core.state.withLock { state in
            let now = SystemClock.monotonicSeconds()
            if state.halt == nil { state.halt = DeliveryError(kind: .interrupted, message: "interrupted") }
            let abandonAt = now + max(0, drainTimeout.isNaN ? 0 : drainTimeout)
            state.abandonAt = min(state.abandonAt ?? abandonAt, abandonAt)
            if state.threadAlive && state.sleeping {
                state.sleeping = false
                waker.wake()
            }
        }
        // Every submit blocked on backpressure now sees `halt`.
        core.state.broadcast()
    }

    /// Why the engine stopped sending on its own, if it did; see `DeliveryStop`.
    public var stop: DeliveryStop? { core.state.withLock { $0.stop } }

    /// A thread-safe snapshot of the counters.
    public func stats() -> DeliveryStats {
        core.state.withLock { $0.stats(now: SystemClock.monotonicSeconds()) }
    }
}

/// An event given up on, waiting to be written to the dead-letter file outside the lock.
struct PendingDeadLetter {
    var event: Event
    var error: DeliveryError
    var source: String
    /// The caller's tag, for `onSettled`.
    var tag: Int64?
}

/// What the caller's threads and the delivery thread share, all under `state`'s lock.
struct EngineState {
    var schedule: DeliverySchedule
    /// Groups with an attempt on the wire.
    var running = Set<Int>()
    var queued = 0
    var submitted = 0
    var delivered = 0
    var retries = 0
    var deadLettered = 0
    var deadLetterWriteFailures = 0
    var lastDeadLetterError: String?
    var latency = LatencyHistogram()
    var firstSubmitAt: Double?
    var finishedAt: Double?
    /// `finish` was called: new submits are dead-lettered, the thread exits once the schedule is empty.
    var closing = false
    /// When `finish`'s timeout runs out (monotonic seconds).
    var deadline: Double?
    /// Set when the engine stops (interrupt, deadline passed, `stop`): nothing new starts, and every
    /// event not delivered is dead-lettered with this error once nothing is on the wire.
    var halt: DeliveryError?
    /// Why the engine stopped on its own, if it did.
    var stop: DeliveryStop?
    /// When requests still on the wire are abandoned (monotonic seconds), once halted.
    var abandonAt: Double?
    /// 401/403 answers since the last 2xx.
    var refusalsInARow = 0
    /// The delivery thread may still be woken (its curl handles exist).
    var threadAlive = true
    /// The delivery thread is (about to be) blocked in poll and needs a wakeup for new work.
    var sleeping = false
    /// The delivery thread has written its last dead letter and is about to return.
    var drained = false
    var joined = false

    func stats(now: Double) -> DeliveryStats {
        var rate = 0.0
        if let start = firstSubmitAt {
            let elapsed = (finishedAt ?? now) - start
            if elapsed > 0 { rate = Double(delivered) / elapsed }
        }
        return DeliveryStats(
            submitted: submitted, delivered: delivered, inFlight: running.count, queued: queued, retries: retries,
            deadLettered: deadLettered, deadLetterWriteFailures: deadLetterWriteFailures,
            lastDeadLetterError: lastDeadLetterError, p50Latency: latency.quantile(0.5),
            p99Latency: latency.quantile(0.99), eventsPerSecond: rate, stop: stop)
    }
}

/// The engine's shared half: configuration, dead-letter output and the locked state. The delivery
/// thread holds it (not the engine), so the engine can be released while the thread drains.
final class DeliveryCore: Sendable {
    let configuration: DeliveryConfiguration
    let policy: RetryPolicy
    let deadLetters: DeadLetterWriter?
    let context: DeadLetterContext
    let onSettled: DeliverySettledHandler?
    let waker: IngestWaker
    let state: ConditionLock<EngineState>

    init(
        configuration: DeliveryConfiguration, deadLetters: DeadLetterWriter?, context: DeadLetterContext,
        onSettled: DeliverySettledHandler?, waker: IngestWaker
    ) {
        self.configuration = configuration
        policy = RetryPolicy(configuration)
        self.deadLetters = deadLetters
        self.context = context
        self.onSettled = onSettled
        self.waker = waker
        state = ConditionLock(EngineState(schedule: DeliverySchedule(laneCount: 4 * configuration.concurrency)))
    }

    /// The delivery thread's loop: apply finished attempts, start ready events, wait for I/O, a
    /// backoff to end, a wakeup or the deadline; exit once `finish` was called and nothing is left.
    func run(transport: IngestTransport) {
        let capacity = configuration.concurrency
        var finished: [IngestAttempt] = []
        var outgoing: [(group: Int, event: Event)] = []
        var letters: [PendingDeadLetter] = []
        var delivered: [Int64] = []
        while true {
            var timeout = 0.0
            var abandon = false
            let exit = state.withLock { state -> Bool in
                state.sleeping = false
                let now = SystemClock.monotonicSeconds()
                for attempt in finished { apply(attempt, now: now, &state, &letters, &delivered) }
                if let deadline = state.deadline, state.abandonAt == nil, now >= deadline {
                    if state.halt == nil { state.halt = DeliveryError(kind: .interrupted, message: "interrupted") }
                    state.abandonAt = now
                }
                if let halt = state.halt {
                    if state.running.isEmpty {
                        for group in state.schedule.removeAll() {
                            deadLetterRemaining(of: group, from: group.next, halt, &state, &letters)
                        }
                    } else if let abandonAt = state.abandonAt, now >= abandonAt {
                        abandon = true
                    }
                } else {
                    state.schedule.endBackoffs(now: now)
                    while state.running.count < capacity, let next = state.schedule.takeReady() {
                        state.running.insert(next.group)
                        outgoing.append(next)
                    }
                }
                if state.closing && state.schedule.isEmpty {
                    state.threadAlive = false
                    state.finishedAt = now
                    return true
                }
                var wait = 1.0
                if state.halt == nil, let end = state.schedule.nextBackoffEnd { wait = min(wait, end - now) }
                if let deadline = state.deadline, state.abandonAt == nil { wait = min(wait, deadline - now) }
                if let abandonAt = state.abandonAt { wait = min(wait, abandonAt - now) }
                timeout = abandon ? 0 : max(wait, 0)
                state.sleeping = !abandon
                return false
            }
            if !finished.isEmpty || !letters.isEmpty { state.broadcast() }
            finished.removeAll(keepingCapacity: true)
            if let onSettled, !delivered.isEmpty {
                for tag in delivered { onSettled(tag, .delivered) }
                delivered.removeAll(keepingCapacity: true)
            }
            write(letters)
            letters.removeAll(keepingCapacity: true)
            if exit { break }
            if abandon {
                finished = transport.abandonAll()
                continue
            }
            for (group, event) in outgoing { transport.start(tag: group, body: event.wireJSON()) }
            outgoing.removeAll(keepingCapacity: true)
            finished = transport.poll(timeout: timeout)
        }
        state.withLock { $0.drained = true }
        state.broadcast()
    }

    /// Applies one finished attempt to its group; the tag of a delivered tagged event goes to `delivered`.
    private func apply(
        _ attempt: IngestAttempt, now: Double, _ state: inout EngineState, _ letters: inout [PendingDeadLetter],
        _ delivered: inout [Int64]
    ) {
        let id = attempt.tag
        state.running.remove(id)
        // An abandoned request got no answer: its time says nothing about the API's latency.
        if attempt.outcome != .abandoned { state.latency.record(attempt.elapsed) }
        let attempts = state.schedule.recordAttempt(id)
        let group = state.schedule.group(id)
        switch policy.verdict(for: attempt.outcome) {
        case .delivered:
            state.delivered += 1
            state.queued -= 1
            state.refusalsInARow = 0
            if let tag = group.tag(at: group.next) { delivered.append(tag) }
        case .retry(let retryAfter, var failure):
            failure.attempts = attempts
            if var halt = state.halt {
                (halt.status, halt.body, halt.attempts) = (failure.status, failure.body, attempts)
                deadLetter(group, group.next, halt, &state, &letters)
            } else if attempts >= policy.maxAttempts {
                failure.message = "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(failure.message)"
                deadLetter(group, group.next, failure, &state, &letters)
            } else {
                state.retries += 1
                let delay = policy.delay(afterFailures: attempts, retryAfter: retryAfter)
                state.schedule.backOff(id, until: now + delay, after: failure)
                return
            }
        case .terminal(var failure):
            failure.attempts = attempts
            deadLetter(group, group.next, failure, &state, &letters)
        case .refused(let status, var failure):
            failure.attempts = attempts
            deadLetter(group, group.next, failure, &state, &letters)
            state.refusalsInARow += 1
            if state.refusalsInARow >= configuration.refusalsBeforeStop {
                halt(.writeKeyRefused(status: status), &state)
            }
        case .redirected(let stop, var failure):
            failure.attempts = attempts
            deadLetter(group, group.next, failure, &state, &letters)
            halt(stop, &state)
        }
        if let halt = state.halt {
            if let rest = state.schedule.remove(id) {
                deadLetterRemaining(of: rest, from: rest.next + 1, halt, &state, &letters)
            }
        } else {
            state.schedule.advance(id)
        }
    }

    /// Stops the engine on its own for `stop`, unless it already stopped: nothing new starts, and
    /// requests on the wire finish (within `requestTimeout`) unless an interrupt abandons them.
    private func halt(_ stop: DeliveryStop, _ state: inout EngineState) {
        guard state.halt == nil else { return }
        state.halt = stop.error
        state.stop = stop
    }

    /// Dead-letters `group.events[start...]` with `halt`; the event that was being retried keeps
    /// its last failure's status, body and attempts.
    private func deadLetterRemaining(
        of group: DeliverySchedule.Group, from start: Int, _ halt: DeliveryError, _ state: inout EngineState,
        _ letters: inout [PendingDeadLetter]
    ) {
        guard start < group.events.count else { return }
        for index in start..<group.events.count {
            var error = halt
            if index == group.next {
                error.attempts = group.attempts
                error.status = group.lastFailure?.status
                error.body = group.lastFailure?.body
            }
            deadLetter(group, index, error, &state, &letters)
        }
    }

    /// Gives up on `group.events[index]`.
    private func deadLetter(
        _ group: DeliverySchedule.Group, _ index: Int, _ error: DeliveryError, _ state: inout EngineState,
        _ letters: inout [PendingDeadLetter]
    ) {
        state.deadLettered += 1
        state.queued -= 1
        let event = group.events[index]
        letters.append(PendingDeadLetter(event: event, error: error, source: group.source, tag: group.tag(at: index)))
    }

    /// Kinds reported to `onSettled` as `.interrupted`: nothing in the event was refused, so a spool
    /// keeps it pending for a later attempt.
    static let settledAsInterrupted: Set<DeliveryError.Kind> = [.interrupted, .writeKeyRefused, .redirected]

    /// Writes dead letters (outside the lock), then reports tagged ones to `onSettled`; write
    /// failures are counted in the stats.
    func write(_ letters: [PendingDeadLetter]) {
        guard !letters.isEmpty else { return }
        var failures = 0
        var lastError: String?
        for letter in letters {
            defer {
                if let onSettled, let tag = letter.tag {
                    let kept = Self.settledAsInterrupted.contains(letter.error.kind)
                    onSettled(tag, kept ? .interrupted(letter.error) : .dead(letter.error))
                }
            }
            guard let deadLetters else { continue }
            do {
                try deadLetters.writeEventFailure(
                    event: letter.event, reason: letter.error.message, status: letter.error.status,
                    body: letter.error.body, attempts: letter.error.attempts, source: letter.source, context: context)
            } catch {
                failures += 1
                lastError = error.description
            }
        }
        if failures > 0 {
            state.withLock { state in
                state.deadLetterWriteFailures += failures
                state.lastDeadLetterError = lastError
            }
        }
    }
}
