import EnchargeSpool
import Synchronization
import SystemKit

/// Keeps acceptance from running ahead of delivery (`--pace-backlog`). It measures the rate at
/// which the spool's events are delivered; while the pending events exceed `limit` seconds of that
/// rate, a request that adds events waits before its commit, longer the further the backlog is
/// past the limit, up to `maxWait`. A sender that waits for its answers before sending more (every
/// webhook sender does, with a bounded number of deliveries in flight) then sends at about the
/// rate delivery sustains, and the backlog stops growing near the limit.
///
/// Nothing is refused or dropped: the wait only delays the answer. While nothing is delivered
/// (the Ingest API down, a refused key, no delivering process) there is no rate to pace to and
/// no request waits: the spool absorbs the outage up to `--max-spool-events`, as before.
final class AcceptancePacer: Sendable {
    /// Seconds of delivery the backlog may hold before requests wait; 0 turns pacing off.
    let limit: Double
    /// The longest wait of one request, in seconds.
    let maxWait: Double
    /// The shortest span (seconds) the delivery rate is measured over.
    static let sampleInterval = 0.25
    /// The longest wait of one request by default: well under the answer times senders allow, and
    /// long enough to halve the rate of a sender whose requests take a few milliseconds.
    static let defaultMaxWait = 0.01

    private let clock: @Sendable () -> Double
    private struct State {
        /// When `delivered` was last sampled, and its value then.
        var sampledAt: Double?
        var delivered = 0
        /// Events delivered per second, smoothed over the last samples.
        var rate = 0.0
        /// Requests that waited, and the seconds they waited in all.
        var paced = 0
        var waited = 0.0
    }
    private let state = Mutex(State())

    init(
        limit: Double, maxWait: Double = AcceptancePacer.defaultMaxWait,
        clock: @escaping @Sendable () -> Double = { SystemClock.monotonicSeconds() }
    ) {
        self.limit = limit
        self.maxWait = maxWait
        self.clock = clock
    }

    /// How long a request that adds events should wait before its commit, given the spool's
    /// counts now (`SpoolStats.pending` and `.delivered`); 0 when it should not. A wait it returns
    /// is counted as taken.
    func wait(pending: Int, delivered: Int) -> Double {
        guard limit > 0 else { return 0 }
        return state.withLock { state in
            Self.sample(delivered: delivered, now: clock(), &state)
            guard state.rate > 0 else { return 0 }
            let excess = Double(pending) / state.rate - limit
            guard excess > 0 else { return 0 }
            let wait = maxWait * min(1, excess / limit)
            state.paced += 1
            state.waited += wait
            return wait
        }
    }

    /// The measured delivery rate (events/s), requests that waited and the seconds they waited,
    /// after sampling `delivered` (the spool's delivered count now).
    func figures(delivered: Int) -> (rate: Double, paced: Int, waited: Double) {
        state.withLock { state in
            Self.sample(delivered: delivered, now: clock(), &state)
            return (state.rate, state.paced, state.waited)
        }
    }

    /// Updates the rate when the last sample is `sampleInterval` old: each span's rate weighs half,
    /// so the rate follows a change within about a second. A span that delivered nothing sets it to
    /// 0 (delivery stalled: nothing to pace to). A count that went down (a recount) restarts the
    /// measurement.
    private static func sample(delivered: Int, now: Double, _ state: inout State) {
        guard let sampledAt = state.sampledAt, delivered >= state.delivered else {
            state.sampledAt = now
            state.delivered = delivered
            return
        }
        let span = now - sampledAt
        guard span >= sampleInterval else { return }
        let rate = Double(delivered - state.delivered) / span
        state.rate = state.rate == 0 || rate == 0 ? rate : (state.rate + rate) / 2
        state.sampledAt = now
        state.delivered = delivered
    }
}
