import EnchargeKit
import EnchargeSpool
import Synchronization
import SystemKit
import WebhookServer

#if canImport(Glibc)
import Glibc
#endif

/// Runs `encharge-lua deliver`: a delivery-only worker on a spool, with no HTTP port, until
/// SIGTERM/SIGINT. It holds its fair share of the spool's lanes among the live delivering processes
/// and sends their events with the semantics of `run`; every `statusInterval` seconds it prints a
/// status line on stderr.
///
/// The first signal stops taking events and gives requests on the wire `drainTimeout` seconds;
/// what is not delivered stays pending for the other workers (exit 0). A second signal ends it at
/// once (exit 130); events on the wire then are sent again by whichever worker takes their lane.
/// A spool that cannot be opened, or a delivery configuration the engine refuses, is exit 2.
package func deliverJob(_ configuration: DeliverJobConfiguration, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    guard let calls = SpoolCallThread() else {
        diagnostics.write("error: cannot start a thread to read the spool; the system refused a new thread")
        return .usage
    }
    defer { calls.close() }
    let opening = configuration.spool
    let result = calls.wait { () async -> Result<OpenedSpool, SpoolError> in
        do throws(SpoolError) {
            return .success(try await opening.open(deliveringAs: "deliver"))
        } catch {
            return .failure(error)
        }
    }
    let opened: OpenedSpool
    switch result {
    case .success(let value): opened = value
    case .failure(let error):
        diagnostics.write("error: \(error)")
        return .usage
    }
    let spool = opened.spool
    let writeKeySource = configuration.delivery.writeKeySource
    let worker: SpoolDeliveryWorker
    do {
        worker = try SpoolDeliveryWorker(
            spool: spool, configuration: configuration.delivery,
            refusalPolicy: WriteKeyRefusalPolicy(retryInterval: configuration.keyRetryInterval)
        ) { status in
            if let status {
                diagnostics.write(
                    "error: \(refusedKeyMessage(status, writeKeySource: writeKeySource)); delivery paused, trying again every \(formatSeconds(configuration.keyRetryInterval))"
                )
            } else {
                diagnostics.write("the Ingest API accepted the write key; delivery resumed")
            }
        }
    } catch {
        diagnostics.write("error: \(error)")
        return .usage
    }
    let interrupts = context.interrupts
    interrupts.handleSignals()
    worker.start()
    context.stdout.write(
        "encharge-lua deliver: delivering \(spool.displayName) (\(spool.laneCount) lanes shared among the delivering processes)\n"
    )
    let stopped = Atomic<Bool>(false)
    var stopping = false
    let interval = configuration.statusInterval
    var nextStatus = SystemClock.monotonicSeconds() + interval
    while true {
        let now = SystemClock.monotonicSeconds()
        if interval > 0 && now >= nextStatus {
            diagnostics.write(deliverStatusLine(worker: worker, spool: spool))
            nextStatus += interval * ((now - nextStatus) / interval + 1).rounded(.down)
        }
        waitForWakeup(interrupts, seconds: interval > 0 ? max(0, nextStatus - now) : nil)
        if stopped.load(ordering: .acquiring) {
            diagnostics.write(deliverStatusLine(worker: worker, spool: spool, stopped: true))
            calls.wait { await opened.close() }
            return .success
        }
        let received = interrupts.received
        if received >= 2 {
            diagnostics.write(
                "warning: stopping now (second signal); events on the wire stay pending and the worker that takes their lane sends them"
            )
            return .interrupted
        }
        if received == 1 && !stopping {
            stopping = true
            diagnostics.write(
                "stopping: requests on the wire have \(formatSeconds(configuration.drainTimeout)) to finish (--drain-timeout); a second signal stops at once"
            )
            let drainTimeout = configuration.drainTimeout
            let stop = { @Sendable in
                if worker.stop(timeout: drainTimeout) {
                    DrainTimeoutNotice(errors: context.stderr).write(drainTimeout: drainTimeout)
                }
                stopped.store(true, ordering: .releasing)
                var byte: UInt8 = 0
                if interrupts.wakeup.write >= 0 { _ = write(interrupts.wakeup.write, &byte, 1) }
            }
            // A thread of its own, so a second signal is heard while the stop drains.
            if let thread = JoinableThread.start(stop) { thread.detach() } else { stop() }
        }
    }
}

/// `deliver: 1200 delivered, 3 retried, 0 dead, 16 in flight; 32 of 64 lanes; spool: 532 pending,
/// 0 dead`: this worker's counters since it started, the lanes it holds, and the spool's counts.
/// The last line, once stopped (`deliver: stopped: ...`), leaves out the lanes, which are given up.
func deliverStatusLine(worker: SpoolDeliveryWorker, spool: any EventSpool, stopped: Bool = false) -> String {
    let delivery = worker.stats()
    let held = spool.cachedStats
    var line =
        "deliver: \(stopped ? "stopped: " : "")\(delivery.delivered) delivered, \(delivery.retried) retried, \(delivery.dead) dead, \(delivery.inFlight) in flight"
    if !stopped { line += "; \(worker.heldLanes.count) of \(spool.laneCount) lanes" }
    line += "; spool: \(held.pending) pending, \(held.dead) dead"
    if let error = worker.lastError { line += "; last error: \(error)" }
    return line
}

/// Blocks until an interrupt (or the stop's wakeup byte) arrives on `interrupts`' pipe, or for
/// `seconds` (nil: no limit), and empties the pipe.
private func waitForWakeup(_ interrupts: Interrupts, seconds: Double?) {
    let milliseconds = seconds.map { Int32(min($0 * 1000, 3_600_000).rounded(.up)) } ?? -1
    guard interrupts.wakeup.read >= 0 else {
        // No pipe: look at the interrupt count every 100 ms.
        poll(nil, 0, milliseconds < 0 ? 100 : min(milliseconds, 100))
        return
    }
    var descriptor = pollfd(fd: interrupts.wakeup.read, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, milliseconds) > 0 else { return }
    var bytes = [UInt8](repeating: 0, count: 64)
    _ = read(interrupts.wakeup.read, &bytes, bytes.count)
}
