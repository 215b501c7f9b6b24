import EnchargeKit
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Acts on SIGINT/SIGTERM while `run` or `replay` delivers, from its own thread, because the job's
/// thread may be blocked in `DeliveryEngine.submit` (a full queue against a slow endpoint) or in
/// `finish`:
/// - the first signal interrupts the engine: nothing new is sent, a blocked `submit` returns,
///   requests on the wire get `drainTimeout` seconds, then everything undelivered is dead-lettered;
/// - the second abandons the requests on the wire at once, so the dead letters are written without
///   waiting on the network, and the job exits 130;
/// - if the job has still not ended after the second signal (its thread is stuck, say reading a
///   terminal), the process exits 130 from here: `settledGrace` seconds after the engine has
///   dead-lettered everything, or `exitGrace` seconds after the signal at the latest.
final class InterruptWatcher: Sendable {
    /// Longest wait after a second signal before the process exits anyway.
    static let exitGrace = 3.0
    /// Time left to the job's own thread, once nothing is queued, to print its summary and return.
    static let settledGrace = 1.0

    private let thread: JoinableThread?

    private let interrupts: Interrupts

    /// Starts watching `interrupts`; `stop` ends it. With no engine (a dry run), only the
    /// second-signal exit applies.
    init(interrupts: Interrupts, engine: DeliveryEngine?, drainTimeout: Double) {
        self.interrupts = interrupts
        guard interrupts.wakeup.read >= 0 else {
            thread = nil
            return
        }
        thread = JoinableThread.start { Self.watch(interrupts, engine: engine, drainTimeout: drainTimeout) }
    }

    /// Ends the watcher thread and waits for it.
    func stop() {
        guard let thread else { return }
        var stopByte: UInt8 = 0
        _ = write(interrupts.wakeup.write, &stopByte, 1)
        thread.join()
    }

    private static func watch(_ interrupts: Interrupts, engine: DeliveryEngine?, drainTimeout: Double) {
        var interrupted = false
        var secondAt: Double?
        var settledAt: Double?
        while true {
            var descriptor = pollfd(fd: interrupts.wakeup.read, events: Int16(POLLIN), revents: 0)
            var timeout: Int32 = -1
            if let secondAt {
                // After a second signal: check every 50 ms whether the job is stuck.
                let now = SystemClock.monotonicSeconds()
                if settledAt == nil && (engine?.stats().queued ?? 0) == 0 { settledAt = now }
                if now >= secondAt + exitGrace || settledAt.map({ now >= $0 + settledGrace }) == true {
                    _exit(ExitStatus.interrupted.rawValue)
                }
                timeout = 50
            }
            let ready = poll(&descriptor, 1, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if ready == 0 { continue }
            var bytes = [UInt8](repeating: 1, count: 64)
            let count = read(interrupts.wakeup.read, &bytes, bytes.count)
            if count > 0 && bytes[..<count].contains(0) { return }
            let signals = interrupts.received
            if signals >= 1 && !interrupted {
                interrupted = true
                engine?.interrupt(drainTimeout: drainTimeout)
            }
            if signals >= 2 && secondAt == nil {
                secondAt = SystemClock.monotonicSeconds()
                engine?.interrupt(drainTimeout: 0)
            }
        }
    }
}
