import EnchargeRules
import EnchargeSpool
import Foundation
import ServiceLifecycle
import Synchronization

/// Bounds the stop. After the first SIGTERM/SIGINT the stop may take `drainTimeout` seconds (and
/// one more for the spool to record what was settled); then the process exits 0 anyway, and the
/// events not delivered stay pending in the spool for the next start. A second signal exits at
/// once with 130. Listed first in the service group, so it stops last.
struct ShutdownDeadline: Service {
    let worker: SpoolDeliveryWorker
    let drainTimeout: Double
    let notice: DrainTimeoutNotice

    func run() async throws {
        let signals = SignalCount()
        let worker = self.worker
        let drainTimeout = self.drainTimeout
        let notice = self.notice
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let count = signals.value.add(1, ordering: .relaxed).newValue
                if count == 1 {
                    Thread.detachNewThread {
                        // Half a second more, so a stop that ends right at the timeout ends cleanly.
                        Thread.sleep(forTimeInterval: drainTimeout + 0.5)
                        notice.write(drainTimeout: drainTimeout)
                        worker.recordSettlements()
                        exit(0)
                    }
                } else {
                    Diagnostics.write("warning: stopping now (second signal); events not yet delivered stay pending in the spool")
                    exit(130)
                }
            }
            source.resume()
            return source
        }
        try? await gracefulShutdown()
        for source in sources { source.cancel() }
    }

    /// Signals received, shared by the handlers of SIGTERM and SIGINT.
    final class SignalCount: Sendable {
        let value = Atomic<Int>(0)
    }
}
