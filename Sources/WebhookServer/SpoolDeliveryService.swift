import EnchargeSpool
import ServiceLifecycle

/// Drains the spool in the background for as long as the server runs. The worker is started once
/// the server listens (a server that cannot bind its port delivers nothing).
struct SpoolDeliveryService: Service {
    let worker: SpoolDeliveryWorker
    let drainTimeout: Double
    let notice: DrainTimeoutNotice

    func run() async throws {
        try? await gracefulShutdown()
        if await worker.shutdown(timeout: drainTimeout) { notice.write(drainTimeout: drainTimeout) }
    }
}
