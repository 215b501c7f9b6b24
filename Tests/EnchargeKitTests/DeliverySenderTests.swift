import EnchargeKit
import Foundation
import JSONKit
import Synchronization
import TestSupport
import Testing

/// The delivery engine with several sender threads (`senderThreads`), each with its own libcurl
/// handles, against a real HTTP server on the loopback interface: the dead-letter file keeps each
/// person's order, stopping reaches every thread, and reports come one at a time. Per-person order
/// on the wire with several senders is in `DeliveryEngineTests` (its order tests run with 1 and more).
@Suite(.timeLimit(.minutes(1)))
struct DeliverySenderTests {
    typealias Engine = DeliveryEngineTests

    @Test func theRequestsInFlightAreSplitOverTheSendersAsEvenlyAsTheyGo() {
        #expect(DeliveryEngine.senderCapacities(concurrency: 16, senders: 2) == [8, 8])
        #expect(DeliveryEngine.senderCapacities(concurrency: 8, senders: 3) == [3, 3, 2])
        #expect(DeliveryEngine.senderCapacities(concurrency: 2, senders: 5) == [1, 1])
        #expect(DeliveryEngine.senderCapacities(concurrency: 5, senders: 1) == [5])
        // One sender per 8 requests in flight, at most one per core, at least one.
        #expect(DeliveryConfiguration.senderThreads(concurrency: 16, cores: 2) == 2)
        #expect(DeliveryConfiguration.senderThreads(concurrency: 16, cores: 1) == 1)
        #expect(DeliveryConfiguration.senderThreads(concurrency: 4, cores: 8) == 1)
        #expect(DeliveryConfiguration.senderThreads(concurrency: 64, cores: 4) == 4)
    }

    @Test func aSenderCountOutsideOneToSixtyFourIsAConfigurationError() {
        for senders in [0, 65] {
            var configuration = Engine.configuration("http://127.0.0.1:9/v1/")
            configuration.senderThreads = senders
            #expect(throws: DeliveryError.self) { try configuration.validate() }
        }
    }

    @Test func theDeadLetterFileKeepsEachPersonsOrderAcrossSenders() async throws {
        // Every event is refused (422), answered after a short random delay, so the senders
        // finish out of step; within each of 4 people the dead letters must keep submit order.
        try await ScriptedIngestServer.with(script: { request, _ in
            IngestReply(status: 422, body: "bad", delay: .microseconds(Int(Engine.fnv(request.body) % 3000)))
        }) { _, endpoint in
            let groups = (1...400).map { [Engine.track(email: "p\($0 % 4)@example.com", seq: $0)] }
            let result = try await Engine.deliver(groups, endpoint: endpoint) {
                $0.concurrency = 8
                $0.senderThreads = 2
            }
            #expect(result.stats.deadLettered == 400)
            let seqs = Engine.seqs(result.deadLetters)
            #expect(seqs.count == 400)
            #expect(Set(seqs).count == 400, "an event was dead-lettered twice")
            for person in 0..<4 {
                let own = seqs.filter { $0 % 4 == person }
                #expect(own == own.sorted(), "person \(person)'s dead letters are out of order")
            }
        }
    }

    @Test func anInterruptAbandonsTheRequestsOnTheWireOfEverySender() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .seconds(3)) }) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "delivery")
            defer { tmp.cleanup() }
            let path = tmp.file("dead.jsonl")
            let engine = try DeliveryEngine(
                configuration: Engine.configuration(endpoint) {
                    $0.concurrency = 2
                    $0.senderThreads = 2
                    $0.requestTimeout = 60
                }, deadLetters: DeadLetterWriter(path: path), context: .init())
            try await onThread {
                for seq in 1...20 {
                    engine.submit([Engine.track(email: "p\(seq % 2)@example.com", seq: seq)], source: "s")
                }
            }
            // One handle per sender and two people: each sender has a request hanging on the wire.
            try #require(
                await eventually("both people's first requests hang on the wire", timeout: .seconds(4)) {
                    server.inFlight == 2
                })
            let start = ContinuousClock.now
            engine.interrupt(drainTimeout: 0.2)
            let stats = try await onThread { engine.finish(timeout: nil) }
            #expect(ContinuousClock.now - start < .seconds(3), "a sender's request on the wire was waited for")
            #expect(stats.delivered == 0)
            #expect(stats.deadLettered == 20)
            let seqs = Engine.seqs(try DeadLetterEntry.read(path: path))
            #expect(seqs.filter { $0 % 2 == 0 } == Array(stride(from: 2, through: 20, by: 2)))
            #expect(seqs.filter { $0 % 2 == 1 } == Array(stride(from: 1, through: 19, by: 2)))
        }
    }

    @Test func finishDoesNotWaitForAnIdleSendersPoll() async throws {
        // Three senders and one event: two senders never get work and sleep in poll. Each engine
        // must end as soon as the event is delivered; a sender left asleep would add up to 1 s.
        try await ScriptedIngestServer.with { server, endpoint in
            let start = ContinuousClock.now
            for round in 1...5 {
                let engine = try DeliveryEngine(
                    configuration: Engine.configuration(endpoint) {
                        $0.concurrency = 3
                        $0.senderThreads = 3
                    }, deadLetters: nil, context: .init())
                let stats = try await onThread { () -> DeliveryStats in
                    engine.submit([Engine.track(email: "p@example.com", seq: round)], source: "s")
                    return engine.finish(timeout: nil)
                }
                #expect(stats.delivered == 1)
            }
            #expect(ContinuousClock.now - start < .seconds(4), "finish waited for sleeping senders")
            #expect(server.accepted.count == 5)
        }
    }

    @Test func taggedEventsAreReportedOnceEachAndOneReportAtATime() async throws {
        // Every fifth event is refused; reports come from the senders, never two at once.
        try await ScriptedIngestServer.with(script: { request, _ in
            (request.seq ?? 0) % 5 == 0 ? .status(422, body: "bad") : .ok
        }) { _, endpoint in
            let reports = Mutex<[Int64: Int]>([:])
            let dead = Mutex<Set<Int64>>([])
            // Reports in progress, and whether one ever began while another was in progress.
            let inside = Mutex((count: 0, overlapped: false))
            let engine = try DeliveryEngine(
                configuration: Engine.configuration(endpoint) {
                    $0.concurrency = 8
                    $0.senderThreads = 4
                }, deadLetters: nil, context: .init(),
                onSettled: { tag, outcome in
                    inside.withLock {
                        $0.count += 1
                        if $0.count > 1 { $0.overlapped = true }
                    }
                    reports.withLock { $0[tag, default: 0] += 1 }
                    if case .dead = outcome { dead.withLock { _ = $0.insert(tag) } }
                    inside.withLock { $0.count -= 1 }
                })
            let stats = try await onThread { () -> DeliveryStats in
                for seq in 1...300 {
                    engine.submit(
                        [Engine.track(email: "p\(seq % 7)@example.com", seq: seq)], source: "s", tags: [Int64(seq)])
                }
                return engine.finish(timeout: nil)
            }
            #expect(stats.delivered == 240)
            #expect(stats.deadLettered == 60)
            let counts = reports.withLock { $0 }
            #expect(counts.count == 300)
            #expect(counts.values.allSatisfy { $0 == 1 }, "a tag was reported twice")
            #expect(dead.withLock { $0 } == Set(stride(from: 5, through: 300, by: 5).map(Int64.init)))
            #expect(!inside.withLock { $0.overlapped }, "two senders reported at once")
        }
    }
}
