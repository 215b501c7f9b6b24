import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// A submit blocked on a full queue (`maxQueuedEvents`) resumes once `queued` is at most this:
    /// a quarter of the queue below the limit, so the mapping thread wakes once per batch of
    /// settled events instead of once per event, and each wakeup refills the queue in one burst.
    let resumeMark: Int
    /// Lanes of the schedule (`DeliverySchedule`): four per request in flight.
    let laneCount: Int

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
        resumeMark = configuration.maxQueuedEvents - max(1, configuration.maxQueuedEvents / 4)
        laneCount = 4 * configuration.concurrency
        state = ConditionLock(EngineState(schedule: DeliverySchedule(laneCount: laneCount)))
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
            var wakeSubmits = false
            let exit = state.withLock { state -> Bool in
                state.sleeping = false
                let now = SystemClock.monotonicSeconds()
                for attempt in finished { apply(attempt, now: now, &state, &letters, &delivered) }
                if let deadline = state.deadline, state.abandonAt == nil, now >= deadline {
                    if state.halt == nil { state.halt = DeliveryError(kind: .interrupted, message: "interrupted") }
                    state.abandonAt = now
                }
                if let halt = state.halt {
                    if state.running == 0 {
                        for group in state.schedule.removeAll() {
                            deadLetterRemaining(of: group, from: group.next, halt, &state, &letters)
                        }
                    } else if let abandonAt = state.abandonAt, now >= abandonAt {
                        abandon = true
                    }
                } else {
                    state.schedule.endBackoffs(now: now)
                    while state.running < capacity, let next = state.schedule.takeReady() {
                        state.running += 1
                        outgoing.append(next)
                    }
                }
                wakeSubmits = state.submitsWaiting > 0 && mayResumeSubmit(state)
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
            if wakeSubmits { state.broadcast() }
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
            transport.poll(timeout: timeout, into: &finished)
        }
        state.withLock { $0.drained = true }
        state.broadcast()
    }

    /// Whether a submit blocked on a full queue may go on: the queue fell to `resumeMark`, or the
    /// engine is finishing or abandoning (then submits no longer wait).
    func mayResumeSubmit(_ state: EngineState) -> Bool {
        state.queued <= resumeMark || state.closing || state.abandonAt != nil
    }

    /// Applies one finished attempt to its group; the tag of a delivered tagged event goes to `delivered`.
    private func apply(
        _ attempt: IngestAttempt, now: Double, _ state: inout EngineState, _ letters: inout [PendingDeadLetter],
        _ delivered: inout [Int64]
    ) {
        let id = attempt.tag
        state.running -= 1
        // An abandoned request got no answer: its time says nothing about the API's latency.
        if attempt.outcome != .abandoned { state.latency.record(attempt.elapsed) }
        let attempts = state.schedule.recordAttempt(id)
        switch policy.verdict(for: attempt.outcome) {
        case .delivered:
            state.delivered += 1
            state.queued -= 1
            state.refusalsInARow = 0
            if let tag = state.schedule.currentTag(id) { delivered.append(tag) }
        case .retry(let retryAfter, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
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
            let group = state.schedule.group(id)
            deadLetter(group, group.next, failure, &state, &letters)
        case .refused(let status, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
            deadLetter(group, group.next, failure, &state, &letters)
            state.refusalsInARow += 1
            if state.refusalsInARow >= configuration.refusalsBeforeStop {
                halt(.writeKeyRefused(status: status), &state)
            }
        case .redirected(let stop, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
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
