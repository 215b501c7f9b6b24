import Synchronization

/// Decides the injected fault of each ingest request, in arrival order: first the rate limit,
/// then a draw against the drop rate, then one against the fail rate.
///
/// The draws come from one seeded generator, so the same seed, flags and request sequence give
/// the same faults. A rate of 0 or 1 takes no draw.
final class MockIngestFaultInjector: Sendable {
    private struct State {
        var random: SplitMix64
        var tokens: Double
        var lastRefill: ContinuousClock.Instant
    }

    private let dropRate: Double
    private let failRate: Double
    private let rateLimit: Int?
    private let state: Mutex<State>

    init(dropRate: Double, failRate: Double, rateLimit: Int?, seed: UInt64?) {
        self.dropRate = dropRate
        self.failRate = failRate
        self.rateLimit = rateLimit
        var system = SystemRandomNumberGenerator()
        self.state = Mutex(
            State(
                random: SplitMix64(seed: seed ?? system.next()),
                tokens: Double(rateLimit ?? 0),
                lastRefill: .now))
    }

    func decide(now: ContinuousClock.Instant = .now) -> MockIngestFault {
        state.withLock { state in
            if let rateLimit {
                // A token bucket holding one second's worth of requests, refilled continuously.
                let elapsed = now - state.lastRefill
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                state.tokens = min(Double(rateLimit), state.tokens + seconds * Double(rateLimit))
                state.lastRefill = now
                if state.tokens < 1 { return .rateLimited }
                state.tokens -= 1
            }
            if Self.draw(dropRate, &state.random) { return .drop }
            if Self.draw(failRate, &state.random) { return .fail }
            return .none
        }
    }

    private static func draw(_ probability: Double, _ random: inout SplitMix64) -> Bool {
        if probability <= 0 { return false }
        if probability >= 1 { return true }
        // 53 random bits make a uniform Double in [0, 1).
        return Double(random.next() >> 11) * 0x1p-53 < probability
    }
}
