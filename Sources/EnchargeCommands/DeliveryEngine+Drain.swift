import EnchargeKit
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Waits for the delivery engine to send what is queued, keeping the progress line fresh. An
/// interrupt reaches the engine through the `InterruptWatcher`: then no new request starts,
/// requests on the wire get up to `--drain-timeout`, and the rest is dead-lettered. The progress
/// line is redrawn every 50 ms while it waits; without one, `finish` returns the moment the last
/// event settles.
func drain(_ engine: DeliveryEngine, progress: ProgressLine, summary: MappingSummary) -> DeliveryStats {
    while progress.enabled {
        let stats = engine.stats()
        if stats.queued == 0 && stats.inFlight == 0 { break }
        progress.update(summary: summary, delivery: stats, reader: nil)
        SystemClock.sleep(seconds: 0.05)
    }
    return engine.finish(timeout: nil)
}
