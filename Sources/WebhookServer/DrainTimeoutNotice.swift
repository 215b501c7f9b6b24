import Synchronization
import SystemKit

/// The warning that the drain timeout ran out, written once: by the delivery service when the
/// engine abandoned requests at the timeout, or by `ShutdownDeadline` when the stop overran it
/// (and by `deliver`'s stop).
package final class DrainTimeoutNotice: Sendable {
    /// Where the warning goes (standard error for `serve`).
    let errors: any OutputWriter
    private let written = Atomic<Bool>(false)

    package init(errors: any OutputWriter) {
        self.errors = errors
    }

    /// Writes the warning, the first time only.
    package func write(drainTimeout: Double) {
        guard !written.exchange(true, ordering: .relaxed) else { return }
        let seconds = Int(exactly: drainTimeout).map(String.init) ?? "\(drainTimeout)"
        errors.writeDiagnosticLine(
            "warning: the drain timeout (\(seconds) s) ran out; events not yet delivered stay pending in the spool for the next worker"
        )
    }
}
