import Synchronization

/// The body bytes one request has read so far; shared between the body stream and the log line.
final class MockIngestByteCounter: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ n: Int) { count.add(n, ordering: .relaxed) }

    var total: Int { count.load(ordering: .relaxed) }
}
