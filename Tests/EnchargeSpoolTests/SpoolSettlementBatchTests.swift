import EnchargeKit
import Foundation
import SystemKit
import TestSupport
import Testing

@testable import EnchargeSpool

/// Marking events delivered is batched: the writer lets settlements gather for a moment instead of
/// committing each one the delivery worker reports.
@Suite(.timeLimit(.minutes(1)))
struct SpoolSettlementBatchTests {
    @Test func eventsDeliveredOneByOneAreMarkedInBatchedTransactions() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let spool = try SQLiteSpool(path: tmp.file("spool.db"))
            let requests = 300
            for index in 0..<requests {
                let person = "person-\(index % 40)"
                _ = try await spool.accept(
                    requestID: "req-\(index)", dedupKey: nil,
                    events: [SpoolFixture.identify(person, request: index), SpoolFixture.track(person, seq: index)],
                    source: "POST /hook")
            }
            let before = spool.store.queue.withLock { $0.transactions }
            let started = ContinuousClock.now
            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            let transactions = spool.store.queue.withLock { $0.transactions } - before
            await worker.shutdown(timeout: 5)
            #expect(server.accepted.count == 2 * requests)
            // Settlements alone are committed when `settlementDelay` has passed since the first
            // of them or a batch is full: never more often. Committed as they came, one
            // transaction per delivered event or per few, this bound breaks.
            let bound =
                Int(elapsed / SpoolStore.settlementDelay) + 2 * requests / SpoolStore.settlementBatch + 2
            #expect(
                transactions <= bound,
                "\(transactions) transactions marked \(2 * requests) events delivered in \(elapsed) s (bound \(bound))")
        }
    }
}
