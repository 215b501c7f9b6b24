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
/// Threads: the caller's thread runs `submit`/`finish`/`stats`; `senderThreads` dedicated threads
/// (one by default) each own a libcurl multi handle with their share of the `concurrency` handles and
/// make the requests. They share only `DeliveryCore.state`, under its lock: one schedule, so a
/// person's next event is started only after their previous one settled, whichever thread sent it.
public final class DeliveryEngine: Sendable {
    private let core: DeliveryCore
    /// The sender threads, each running `DeliveryCore.run` with a transport of its own; joined
    /// exactly once, by the `finish` call that claims `EngineState.joined`.
    private let threads: [JoinableThread]

    /// Validates the configuration, sets up libcurl and starts the sender threads.
    ///
    /// Events given up on are appended to `deadLetters`; with nil they go nowhere but `onSettled`
    /// (the webhook spool keeps them in its database instead). `onSettled` hears how every event
    /// submitted with tags ended, from one sender thread at a time; untagged events are not reported.
    public init(
        configuration: DeliveryConfiguration, deadLetters: DeadLetterWriter?, context: DeadLetterContext,
        onSettled: DeliverySettledHandler? = nil
    ) throws(DeliveryError) {
        try configuration.validate()
        let capacities = Self.senderCapacities(
            concurrency: configuration.concurrency, senders: configuration.senderThreads)
        var transports: [IngestTransport] = []
        for capacity in capacities {
            transports.append(try IngestTransport(configuration: configuration, capacity: capacity))
        }
        core = DeliveryCore(
            configuration: configuration, deadLetters: deadLetters, context: context, onSettled: onSettled,
            wakers: transports.map(\.waker), capacities: capacities)
        var threads: [JoinableThread] = []
        for (index, transport) in transports.enumerated() {
            let core = self.core
            // The transport is handed to its thread as the only reference left, so it is freed on
            // that thread when `run` returns.
            let handover = TransportHandover(transport)
            do {
                threads.append(try JoinableThread { core.run(sender: index, transport: handover.take()) })
            } catch {
                // The senders already started stop once `finish` closes the engine; the others'
                // transports never ran, so they are not waited for.
                core.state.withLock { state in
                    for unstarted in index..<state.senders.count {
                        state.senders[unstarted].alive = false
                        state.sendersDone += 1
                    }
                    state.drained = state.sendersDone == state.senders.count
                }
                self.threads = threads
                _ = finish(timeout: 0)
                throw DeliveryError(
                    kind: .configuration,
                    message:
                        "cannot start a delivery thread (error \(error.code)): the system is short of threads or memory; free some, or send with fewer requests in flight"
                )
            }
        }
        self.threads = threads
    }

    /// `concurrency` handles split over `senders` threads as evenly as it goes (the first ones get
    /// one more); never more senders than requests in flight.
    package static func senderCapacities(concurrency: Int, senders: Int) -> [Int] {
        let count = max(1, min(senders, concurrency))
        return (0..<count).map { concurrency / count + ($0 < concurrency % count ? 1 : 0) }
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
        // Outside the lock: the sender threads wait for it less.
        let lanes = DeliverySchedule.lanes(of: events, laneCount: core.laneCount)
        // Room now: in at once. A full queue: the submit counts itself as waiting and sleeps until
        // the sender threads drained the queue to its resume mark (or an interrupt or `finish`,
        // which set `abandonAt` or `closing`, wakes it); after a stop of its own the engine frees
        // room within `requestTimeout`, and memory stays bounded meanwhile.
        // Groups the sender threads finished since the last submit: their events were allocated
        // on this thread, so they are freed here, after the lock, not on a sender thread.
        var finishedGroups: [DeliverySchedule.Group] = []
        let admitted = core.state.withLock { state -> Bool? in
            finishedGroups = state.schedule.takeFinished()
            guard state.queued < limit || state.closing || state.abandonAt != nil else {
                state.submitsWaiting += 1
                return nil
            }
            return admit(events, source: source, tags: tags, lanes: lanes, &state)
        }
        let accepted =
            admitted
            ?? core.state.withLock(whenReady: { [core] in core.mayResumeSubmit($0) }) { state -> Bool in
                state.submitsWaiting -= 1
                return admit(events, source: source, tags: tags, lanes: lanes, &state)
            }
        guard !accepted else { return }
        let error = DeliveryError(kind: .interrupted, message: "interrupted: submitted after finish")
        core.writeOutOfTurn(
            events.indices.map {
                PendingDeadLetter(event: events[$0], error: error, source: source, tag: tags?[$0])
            })
    }

    /// Queues one submit's events as a group under the lock, waking a sleeping sender thread with
    /// room when the group can go now; false after `finish` (the caller dead-letters them).
    private func admit(
        _ events: [Event], source: String, tags: [Int64]?, lanes: [Int], _ state: inout EngineState
    ) -> Bool {
        if state.firstSubmitAt == nil { state.firstSubmitAt = SystemClock.monotonicSeconds() }
        state.submitted += events.count
        if state.closing {
            state.deadLettered += events.count
            return false
        }
        state.queued += events.count
        let ready = state.schedule.add(events, source: source, tags: tags, lanes: lanes)
        // Stopped, the thread dead-letters the new group once nothing is on the wire.
        if state.halt != nil {
            core.wakeAllSleeping(&state)
        } else if ready && state.running < core.configuration.concurrency {
            core.wakeOneWithRoom(&state)
        }
        return true
    }

    /// Stops taking new work and waits until every queued event is delivered or dead-lettered. With
    /// a `timeout` (seconds), once it passes no new request starts, requests on the wire are
    /// abandoned (their events too may have reached the API), and every event left is dead-lettered
    /// with reason "interrupted". Returns the final stats; calling it again returns them again.
    public func finish(timeout: Double?) -> DeliveryStats {
        core.state.withLock { state in
            state.closing = true
            if let timeout {
                let deadline = SystemClock.monotonicSeconds() + max(0, timeout.isNaN ? 0 : timeout)
                state.deadline = min(state.deadline ?? deadline, deadline)
            }
            core.wakeAllSleeping(&state)
        }
        // Every submit blocked on backpressure now sees `closing`.
        core.state.broadcast()
        let join = core.state.withLock(whenReady: { $0.drained }) { state -> Bool in
            defer { state.joined = true }
            return !state.joined
        }
        if join { threads.forEach { $0.join() } }
        // The last finished groups are freed here too, on the caller's thread.
        _ = core.state.withLock { $0.schedule.takeFinished() }
        return stats()
    }

    /// Stops sending now, for an interrupt (Ctrl-C): no new request starts, `submit` no longer
    /// blocks, requests on the wire get up to `drainTimeout` seconds and are then abandoned, and
    /// every event not delivered is dead-lettered with reason "interrupted". It does not wait: call
    /// `finish` for that. Calling it again can only shorten the drain (a second Ctrl-C passes 0).
    public func interrupt(drainTimeout: Double) {
        core.state.withLock { state in
            let now = SystemClock.monotonicSeconds()
            if state.halt == nil { state.halt = DeliveryError(kind: .interrupted, message: "interrupted") }
            let abandonAt = now + max(0, drainTimeout.isNaN ? 0 : drainTimeout)
            state.abandonAt = min(state.abandonAt ?? abandonAt, abandonAt)
            core.wakeAllSleeping(&state)
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

/// Moves a transport onto its sender thread: the thread takes the only reference, so the transport
/// (which is not Sendable) is used and freed there alone.
private final class TransportHandover: @unchecked Sendable {
    // Invariant: `transport` is read once, by `take()` on the sender thread, after `init` on the
    // starting thread; the thread start orders the two.
    private var transport: IngestTransport?

    init(_ transport: IngestTransport) { self.transport = transport }

    func take() -> IngestTransport {
        defer { transport = nil }
        return transport!
    }
}
