import EnchargeKit
import Synchronization
import SystemKit

/// Drains an `EventSpool` into the Encharge Ingest API with the delivery semantics of `run`:
/// per-person order, bounded concurrency, retries with backoff, and dead events kept in the spool
/// (reason, last status and body, attempts) instead of a dead-letter file. It knows the spool only
/// through the protocol, so it drains a SQLite file or its share of a PostgreSQL spool alike.
///
/// Lanes: every stored event has a lane (of its person). About every second the worker asks the
/// spool to re-balance its lanes (`balanceLanes`), offering up every lane with nothing on the wire;
/// it reads only the lanes it holds. A newly held lane is read from its beginning, events that were
/// on the wire in another process when it died included; a released lane is no longer read.
///
/// Order: within a lane, events go in spool (commit) order; the events of one request (in the held
/// lanes) go to the `DeliveryEngine` as one group in their stored order, so per-person order holds
/// across requests, restarts and processes. The events are built from their stored bytes, which
/// were validated when accepted: nothing is parsed again.
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
        spool: any EventSpool, configuration: DeliveryConfiguration, refusalPolicy: WriteKeyRefusalPolicy = .init(),
        onKeyRefusal: (@Sendable (Int?) -> Void)? = nil
    ) throws {
        try self.init(
            spool: spool, configuration: configuration, batchSize: 500, refusalPolicy: refusalPolicy,
            onKeyRefusal: onKeyRefusal)
    }

    /// `init(spool:configuration:)` with the number of pending events read per query and the
    /// seconds between two lane re-balances.
    package init(
        spool: any EventSpool, configuration: DeliveryConfiguration, batchSize: Int, balanceInterval: Double = 1,
        refusalPolicy: WriteKeyRefusalPolicy = .init(), onKeyRefusal: (@Sendable (Int?) -> Void)? = nil
    ) throws {
        precondition(batchSize >= 1 && balanceInterval > 0)
        core = WorkerCore(
            spool: spool, configuration: configuration, batchSize: batchSize, refusalPolicy: refusalPolicy,
            balanceInterval: balanceInterval, onKeyRefusal: onKeyRefusal ?? { _ in })
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
        core.spool.wake()
        let clock = ContinuousClock()
        let started = clock.now
        _ = engine?.finish(timeout: timeout)
        let ranOut = clock.now - started >= .seconds(timeout)
        if let thread, !thread.isCurrent { thread.join() }
        core.spool.waitForSettlements()
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

    /// Why reading the spool fails, while it does (the worker retries every second; the next
    /// successful read or balance clears it), else the last other trouble (why delivery is paused
    /// on a redirect, lanes lost to another process); nil when none happened.
    package var lastError: String? { core.counters.withLock { $0.readFailure ?? $0.lastError } }

    /// Waits until the spool has recorded every event settled so far (delivered ones deleted, dead
    /// ones marked), so a process that must exit now sends none of them again after its restart.
    package func recordSettlements() {
        core.spool.waitForSettlements()
    }

    /// The HTTP status (401 or 403) while delivery is paused because the Ingest API refuses the
    /// write key; nil while it delivers.
    package var refusedWriteKeyStatus: Int? { core.counters.withLock { $0.pausedStatus } }

    /// The lanes this worker held after its last re-balance (none before `start`).
    package var heldLanes: Set<Int> { core.counters.withLock { $0.heldLanes } }
}
