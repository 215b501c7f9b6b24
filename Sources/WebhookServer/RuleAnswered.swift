import Synchronization

/// Whether the rule answered one request (its route then labels the metric series).
final class RuleAnswered: Sendable {
    private let answered = Atomic<Bool>(false)

    /// Records that the rule answered.
    func set() { answered.store(true, ordering: .relaxed) }

    /// Whether the rule answered.
    var value: Bool { answered.load(ordering: .relaxed) }
}
