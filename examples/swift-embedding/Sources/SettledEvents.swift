import EnchargeKit
import Synchronization

/// How the delivery engine settled each submitted event, by tag (the event's index), filled in
/// on the engine's delivery thread and read after `finish`.
final class SettledEvents: Sendable {
    private let outcomes = Mutex<[Int64: DeliveryOutcome]>([:])

    /// Records one outcome; the engine's `onSettled` handler.
    func settle(tag: Int64, outcome: DeliveryOutcome) {
        outcomes.withLock { $0[tag] = outcome }
    }

    /// The outcome of the event tagged `tag`, nil if the engine never settled it.
    func outcome(of tag: Int64) -> DeliveryOutcome? {
        outcomes.withLock { $0[tag] }
    }
}
