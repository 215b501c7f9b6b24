import EnchargeSpool
import Foundation
import ServiceLifecycle
import SystemKit
import UnixSignals

/// Bounds the stop. After the first SIGTERM/SIGINT the stop may take `drainTimeout` seconds (and
/// one more for the spool to record what was settled); then the process exits 0 anyway, and the
/// events not delivered stay pending in the spool for the next start. A second signal exits at
/// once with 130. Listed first in the service group, so it stops last.
struct ShutdownDeadline: Service {
    /// Nil when the server does not deliver (`--no-deliver`).
    let worker: SpoolDeliveryWorker?
    let drainTimeout: Double
    let notice: DrainTimeoutNotice
    /// Where the second signal's warning goes (standard error for `serve`).
    let errors: any OutputWriter

    func run() async throws {
        let stops = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        var received = 0
        for await _ in stops.cancelOnGracefulShutdown() {
            received += 1
            if received == 1 {
                let worker = self.worker
                let drainTimeout = self.drainTimeout
                let notice = self.notice
                // A thread of its own, since it sleeps; it ends the process, so nobody joins it.
                JoinableThread.start {
                    // Half a second more, so a stop that ends right at the timeout ends cleanly.
                    SystemClock.sleep(seconds: drainTimeout + 0.5)
                    notice.write(drainTimeout: drainTimeout)
                    worker?.recordSettlements()
                    exit(0)
                }?.detach()
            } else {
                errors.writeDiagnosticLine(
                    "warning: stopping now (second signal); events not yet delivered stay pending in the spool")
                exit(130)
            }
        }
    }
}
