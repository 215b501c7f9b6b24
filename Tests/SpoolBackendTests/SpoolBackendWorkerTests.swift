import EnchargeKit
import EnchargeSpool
import TestSupport
import Testing

/// The delivery worker, which knows only `EventSpool`, drains every backend in per-person order
/// through retries, and leaves what it did not send pending for the next worker.
@Suite(.timeLimit(.minutes(2)))
struct SpoolBackendWorkerTests {
    @Test(arguments: SpoolBackends.all)
    func theWorkerDeliversEveryEventInPerPersonOrderThroughRetries(backend: any SpoolBackendFactory) async throws {
        // Every third event fails once with 500; event 50 is refused for good (dead, kept).
        let script: ScriptedIngestServer.Script = { request, attempt in
            guard let seq = request.seq else { return .ok }
            if seq == 50 { return .status(422) }
            return attempt == 1 && seq % 3 == 0 ? .status(500) : .ok
        }
        try await ScriptedIngestServer.with(script: script) { server, endpoint in
            try await backend.withSpool { spool, _ in
                for index in 0..<120 {
                    let person = "person-\(index % 9)"
                    _ = try await spool.accept(
                        requestID: "req-\(index)", dedupKey: nil,
                        events: [
                            SpoolFixture.identify(person, request: index), SpoolFixture.track(person, seq: index),
                        ],
                        source: "POST /hook")
                }
                let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
                worker.start()
                #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
                await worker.shutdown(timeout: 5)
                #expect(worker.heldLanes == SpoolLanes.all)
                let stats = try await spool.stats()
                #expect(stats.delivered == 239 && stats.dead == 1)
                #expect(try await spool.deadEvents().map(\.status) == [422])
                #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<120).subtracting([50]))
                for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(server.accepted) {
                    #expect(SpoolFixture.isAscending(seqs), "\(person) out of order: \(seqs)")
                }
            }
        }
    }

    @Test(arguments: SpoolBackends.all)
    func aStoppedWorkerLeavesTheRestPendingForTheNextOne(backend: any SpoolBackendFactory) async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(20)) }) {
            server, endpoint in
            try await backend.withSpool { spool, location in
                for index in 0..<60 {
                    _ = try await spool.accept(
                        requestID: "req-\(index)", dedupKey: nil,
                        events: [SpoolFixture.track("person-\(index % 3)", seq: index)], source: "POST /hook")
                }
                let first = try SpoolDeliveryWorker(
                    spool: spool, configuration: SpoolFixture.configuration(endpoint) { $0.concurrency = 2 })
                first.start()
                #expect(await eventually("5 events are accepted") { server.accepted.count >= 5 })
                await first.shutdown(timeout: 0)
                let afterStop = try await spool.stats()
                #expect(afterStop.pending > 0 && afterStop.dead == 0)
                #expect(afterStop.pending + afterStop.delivered == 60)
                await backend.close(spool)

                let reopened = try await backend.open(location)
                let second = try SpoolDeliveryWorker(
                    spool: reopened, configuration: SpoolFixture.configuration(endpoint))
                second.start()
                #expect(try await eventually("the spool drains") { try await reopened.stats().pending == 0 })
                await second.shutdown(timeout: 5)
                #expect(try await reopened.stats().delivered == 60)
                #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<60))
                for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(server.accepted) {
                    #expect(SpoolFixture.isAscending(seqs), "\(person) out of order across the restart: \(seqs)")
                }
                await backend.close(reopened)
            }
        }
    }
}
