import Synchronization
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine's shared half: configuration, dead-letter output and the locked state. The sender
/// threads hold it (not the engine), so the engine can be released while they drain.
final class DeliveryCore: Sendable {
    let configuration: DeliveryConfiguration
    let policy: RetryPolicy
    let deadLetters: DeadLetterWriter?
    let context: DeadLetterContext
    let onSettled: DeliverySettledHandler?
    /// Each sender's waker, by sender index; used only under the lock, while that sender is alive.
    let wakers: [IngestWaker]
    /// Each sender's share of `concurrency`, by sender index.
    let capacities: [Int]
    let state: ConditionLock<EngineState>
    /// Held while settled work is written or reported, so it goes out in the order it was applied
    /// even when two senders flush at once. Taken before `state`'s lock, never while holding it.
    private let flushing = Mutex(())
    /// A submit blocked on a full queue (`maxQueuedEvents`) resumes once `queued` is at most this:
    /// a quarter of the queue below the limit, so the mapping thread wakes once per batch of
    /// settled events instead of once per event, and each wakeup refills the queue in one burst.
    let resumeMark: Int
    /// Lanes of the schedule (`DeliverySchedule`): four per request in flight.
    let laneCount: Int

    init(
        configuration: DeliveryConfiguration, deadLetters: DeadLetterWriter?, context: DeadLetterContext,
        onSettled: DeliverySettledHandler?, wakers: [IngestWaker], capacities: [Int]
    ) {
        precondition(!wakers.isEmpty && wakers.count == capacities.count, "one waker and one capacity per sender")
        self.configuration = configuration
        policy = RetryPolicy(configuration)
        self.deadLetters = deadLetters
        self.context = context
        self.onSettled = onSettled
        self.wakers = wakers
        self.capacities = capacities
        resumeMark = configuration.maxQueuedEvents - max(1, configuration.maxQueuedEvents / 4)
        laneCount = 4 * configuration.concurrency
        state = ConditionLock(
            EngineState(
                schedule: DeliverySchedule(laneCount: laneCount),
                senders: Array(repeating: EngineState.Sender(), count: wakers.count)))
    }

    /// Wakes every sender blocked in poll (an interrupt, `finish`, the end of the work).
    func wakeAllSleeping(_ state: inout EngineState) {
        for index in state.senders.indices where state.senders[index].sleeping && state.senders[index].alive {
            state.senders[index].sleeping = false
            wakers[index].wake()
        }
    }

    /// Wakes one sender blocked in poll that has room for another request, if there is one: the
    /// others are awake and take ready work on their next turn anyway.
    func wakeOneWithRoom(_ state: inout EngineState) {
        for index in state.senders.indices {
            let sender = state.senders[index]
            if sender.sleeping && sender.alive && sender.running < capacities[index] {
                state.senders[index].sleeping = false
                wakers[index].wake()
                return
            }
        }
    }

    /// Sender `me`'s loop: apply finished attempts, start ready events, wait for I/O, a backoff to
    /// end, a wakeup or the deadline; exit once `finish` was called and nothing is left. Every
    /// sender runs it with a transport of its own; they share the schedule under the lock.
    func run(sender me: Int, transport: IngestTransport) {
        let capacity = capacities[me]
        var finished: [IngestAttempt] = []
        var outgoing: [(group: Int, event: Event)] = []
        var settled = SettledBatch()
        while true {
            var timeout = 0.0
            var abandon = false
            var wakeSubmits = false
            var flush = false
            let exit = state.withLock { state -> Bool in
                state.senders[me].sleeping = false
                let now = SystemClock.monotonicSeconds()
                let lettersBefore = state.unwrittenLetters.count
                let deliveredBefore = state.unreportedDelivered.count
                for attempt in finished { apply(attempt, sender: me, now: now, &state) }
                if let deadline = state.deadline, state.abandonAt == nil, now >= deadline {
                    if state.halt == nil { state.halt = DeliveryError(kind: .interrupted, message: "interrupted") }
                    state.abandonAt = now
                    wakeAllSleeping(&state)
                }
                if let halt = state.halt {
                    if state.running == 0 {
                        for group in state.schedule.removeAll() {
                            deadLetterRemaining(of: group, from: group.next, halt, &state)
                        }
                    } else if let abandonAt = state.abandonAt, now >= abandonAt, state.senders[me].running > 0 {
                        abandon = true
                    }
                } else {
                    state.schedule.endBackoffs(now: now)
                    while state.senders[me].running < capacity, let next = state.schedule.takeReady() {
                        state.running += 1
                        state.senders[me].running += 1
                        outgoing.append(next)
                    }
                    // More ready than this sender has room for: a sleeping one with room takes it.
                    if state.schedule.hasReady { wakeOneWithRoom(&state) }
                }
                flush =
                    state.unwrittenLetters.count != lettersBefore || state.unreportedDelivered.count != deliveredBefore
                wakeSubmits = state.submitsWaiting > 0 && mayResumeSubmit(state)
                if state.closing && state.schedule.isEmpty {
                    state.senders[me].alive = false
                    if state.senders.allSatisfy({ !$0.alive }) { state.finishedAt = now }
                    // The others see the same and exit too, once woken.
                    wakeAllSleeping(&state)
                    return true
                }
                var wait = 1.0
                if state.halt == nil, let end = state.schedule.nextBackoffEnd { wait = min(wait, end - now) }
                if let deadline = state.deadline, state.abandonAt == nil { wait = min(wait, deadline - now) }
                if let abandonAt = state.abandonAt, state.senders[me].running > 0 {
                    wait = min(wait, abandonAt - now)
                }
                timeout = abandon ? 0 : max(wait, 0)
                state.senders[me].sleeping = !abandon
                return false
            }
            if wakeSubmits { state.broadcast() }
            finished.removeAll(keepingCapacity: true)
            if flush || exit { flushSettled(&settled) }
            if exit { break }
            if abandon {
                finished = transport.abandonAll()
                continue
            }
            for (group, event) in outgoing { transport.start(tag: group, body: event.wireJSON()) }
            outgoing.removeAll(keepingCapacity: true)
            transport.poll(timeout: timeout, into: &finished)
        }
        state.withLock { state in
            state.sendersDone += 1
            state.drained = state.sendersDone == state.senders.count
        }
        state.broadcast()
    }

    /// Whether a submit blocked on a full queue may go on: the queue fell to `resumeMark`, or the
    /// engine is finishing or abandoning (then submits no longer wait).
    func mayResumeSubmit(_ state: EngineState) -> Bool {
        state.queued <= resumeMark || state.closing || state.abandonAt != nil
    }

    /// Applies one finished attempt of `sender` to its group; with `onSettled`, the tag of a delivered
    /// tagged event is queued for it.
    private func apply(_ attempt: IngestAttempt, sender: Int, now: Double, _ state: inout EngineState) {
        let id = attempt.tag
        state.running -= 1
        state.senders[sender].running -= 1
        // An abandoned request got no answer: its time says nothing about the API's latency.
        if attempt.outcome != .abandoned { state.latency.record(attempt.elapsed) }
        let attempts = state.schedule.recordAttempt(id)
        switch policy.verdict(for: attempt.outcome) {
        case .delivered:
            state.delivered += 1
            state.queued -= 1
            state.refusalsInARow = 0
            if onSettled != nil, let tag = state.schedule.currentTag(id) { state.unreportedDelivered.append(tag) }
        case .retry(let retryAfter, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
            if var halt = state.halt {
                (halt.status, halt.body, halt.attempts) = (failure.status, failure.body, attempts)
                deadLetter(group, group.next, halt, &state)
            } else if attempts >= policy.maxAttempts {
                failure.message = "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(failure.message)"
                deadLetter(group, group.next, failure, &state)
            } else {
                state.retries += 1
                let delay = policy.delay(afterFailures: attempts, retryAfter: retryAfter)
                state.schedule.backOff(id, until: now + delay, after: failure)
                return
            }
        case .terminal(var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
            deadLetter(group, group.next, failure, &state)
        case .refused(let status, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
            deadLetter(group, group.next, failure, &state)
            state.refusalsInARow += 1
            if state.refusalsInARow >= configuration.refusalsBeforeStop {
                halt(.writeKeyRefused(status: status), &state)
            }
        case .redirected(let stop, var failure):
            failure.attempts = attempts
            let group = state.schedule.group(id)
            deadLetter(group, group.next, failure, &state)
            halt(stop, &state)
        }
        if let halt = state.halt {
            if let rest = state.schedule.remove(id) {
                deadLetterRemaining(of: rest, from: rest.next + 1, halt, &state)
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
        of group: DeliverySchedule.Group, from start: Int, _ halt: DeliveryError, _ state: inout EngineState
    ) {
        guard start < group.events.count else { return }
        for index in start..<group.events.count {
            var error = halt
            if index == group.next {
                error.attempts = group.attempts
                error.status = group.lastFailure?.status
                error.body = group.lastFailure?.body
            }
            deadLetter(group, index, error, &state)
        }
    }

    /// Gives up on `group.events[index]`.
    private func deadLetter(
        _ group: DeliverySchedule.Group, _ index: Int, _ error: DeliveryError, _ state: inout EngineState
    ) {
        state.deadLettered += 1
        state.queued -= 1
        let event = group.events[index]
        state.unwrittenLetters.append(
            PendingDeadLetter(event: event, error: error, source: group.source, tag: group.tag(at: index)))
    }

    /// Kinds reported to `onSettled` as `.interrupted`: nothing in the event was refused, so a spool
    /// keeps it pending for a later attempt.
    static let settledAsInterrupted: Set<DeliveryError.Kind> = [.interrupted, .writeKeyRefused, .redirected]

    /// A sender's spare buffers for `flushSettled`, reused across flushes.
    struct SettledBatch {
        var letters: [PendingDeadLetter] = []
        var delivered: [Int64] = []
    }

    /// Takes what was settled and not yet written (from every sender) and writes and reports it,
    /// outside the state's lock; one flush at a time, so it goes out in the order it was applied.
    func flushSettled(_ batch: inout SettledBatch) {
        flushing.withLock { _ in
            state.withLock { state in
                swap(&batch.letters, &state.unwrittenLetters)
                swap(&batch.delivered, &state.unreportedDelivered)
            }
            if let onSettled {
                for tag in batch.delivered { onSettled(tag, .delivered) }
            }
            write(batch.letters)
        }
        batch.letters.removeAll(keepingCapacity: true)
        batch.delivered.removeAll(keepingCapacity: true)
    }

    /// `write` for letters that settle outside the senders' turns (events submitted after
    /// `finish`), still one flush at a time, so `onSettled` never runs twice at once.
    func writeOutOfTurn(_ letters: [PendingDeadLetter]) {
        flushing.withLock { _ in write(letters) }
    }

    /// Writes dead letters (outside the lock), then reports tagged ones to `onSettled`; write
    /// failures are counted in the stats.
    private func write(_ letters: [PendingDeadLetter]) {
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
