import EnchargeRules
import Logging
import ServiceLifecycle
import SystemKit
import UnixSignals

/// Reloads the rule on each SIGHUP until the server stops. A rule that does not load is refused
/// and the old one keeps serving; the log says which happened.
struct RuleReloadService: Service {
    let pool: RulePool
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    /// Loads the rule on a thread of its own: a top level may run up to twice the time limit,
    /// which must not hold a thread of the cooperative pool.
    private func reload() async {
        let pool = self.pool
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<RuleLoadError?, Never>) in
            let thread = JoinableThread.start {
                do throws(RuleLoadError) {
                    try pool.reload()
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: error)
                }
            }
            // Nobody joins it: the answer arrives through the continuation.
            guard let thread else {
                continuation.resume(returning: RuleLoadError("cannot start a thread to load the rules file"))
                return
            }
            thread.detach()
        }
        if let error = result {
            logger.error("rules not reloaded, the old rules keep serving: \(error.description)")
        } else {
            logger.info("rules reloaded")
        }
    }
}
