import EnchargeRules
import ServiceLifecycle
import SystemKit

/// Writes the rule's counted warnings (`warning: 3 tags contained a comma; ...`) every `interval`
/// seconds when there are any, and once more when the server stops (after the last request).
struct RuleWarningReporter: Service {
    let pool: RulePool
    let interval: Double
    /// Where the warnings go (standard error for `serve`).
    let errors: any OutputWriter

    func run() async throws {
        repeat {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
            report()
        } while !Task.isShuttingDownGracefully && !Task.isCancelled
    }

    private func report() {
        for line in pool.takeRunWarnings().lines() { errors.writeDiagnosticLine(line) }
    }
}
