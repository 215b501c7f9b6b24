import Synchronization

/// What the mock does with one ingest request before looking at it.
enum MockIngestFault: Sendable, Equatable {
    /// Serve it normally.
    case none
    /// Answer 429 with `Retry-After: 1` (over `--rate-limit`).
    case rateLimited
    /// Close the connection without answering (`--drop-rate`).
    case drop
    /// Answer 500 (`--fail-rate`).
    case fail
}

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

/// A small, fast generator whose whole sequence follows from its seed (Steele, Lea and Flood's
/// SplitMix64), so fault injection can be replayed with `--seed`.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
