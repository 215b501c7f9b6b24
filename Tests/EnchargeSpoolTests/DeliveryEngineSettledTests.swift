import EnchargeKit
import Foundation
import Synchronization
import TestSupport
import Testing

/// The delivery engine's completion hook, which the spool relies on to mark events: every tagged
/// event is reported exactly once, with how it ended; untagged events and the dead-letter file
/// behave as before.
@Suite(.timeLimit(.minutes(1)))
struct DeliveryEngineSettledTests {
    final class Settled: Sendable {
        private let outcomes = Mutex<[(Int64, DeliveryOutcome)]>([])
        func record(_ tag: Int64, _ outcome: DeliveryOutcome) { outcomes.withLock { $0.append((tag, outcome)) } }
        var all: [(Int64, DeliveryOutcome)] { outcomes.withLock { $0 } }
        var byTag: [Int64: DeliveryOutcome] {
            Dictionary(all.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        }
    }

    @Test func everyTaggedEventIsReportedOnceWithItsOutcome() async throws {
        let script: ScriptedIngestServer.Script = { request, attempt in
            switch request.seq {
            case 2: .status(422, body: "bad user")
            case 3 where attempt == 1: .status(500)
            case 4: .status(429, body: "slow down", retryAfter: "0")
            default: .ok
            }
        }
        try await ScriptedIngestServer.with(script: script) { server, endpoint in
            let settled = Settled()
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let deadLetters = path + ".dead.jsonl"
            let engine = try DeliveryEngine(
                configuration: SpoolFixture.configuration(endpoint) { $0.maxAttempts = 3 },
                deadLetters: DeadLetterWriter(path: deadLetters), context: DeadLetterContext(),
                onSettled: { settled.record($0, $1) })
            let stats = try await onThread {
                engine.submit(
                    (1...5).map { SpoolFixture.track("ann", seq: $0) }, source: "r1", tags: [11, 12, 13, 14, 15])
                engine.submit([SpoolFixture.track("bob", seq: 6)], source: "untagged")
                return engine.finish(timeout: nil)
            }
            #expect(stats.delivered == 4)
            #expect(stats.deadLettered == 2)
            #expect(settled.all.count == 5, "untagged events are not reported; tagged ones once each")
            let outcomes = settled.byTag
            #expect(outcomes[11] == .delivered)
            #expect(outcomes[13] == .delivered)
            #expect(outcomes[15] == .delivered)
            guard case .dead(let rejected)? = outcomes[12] else {
                Issue.record("tag 12: \(String(describing: outcomes[12]))")
                return
            }
            #expect(rejected.kind == .rejected)
            #expect(rejected.status == 422)
            #expect(rejected.body == "bad user")
            #expect(rejected.attempts == 1)
            guard case .dead(let exhausted)? = outcomes[14] else {
                Issue.record("tag 14: \(String(describing: outcomes[14]))")
                return
            }
            #expect(exhausted.kind == .exhausted)
            #expect(exhausted.status == 429)
            #expect(exhausted.attempts == 3)
            // The dead-letter file is still written for engines given one.
            #expect(try DeadLetterEntry.read(path: deadLetters).count == 2)
            #expect(server.accepted.count == 4)
        }
    }

    @Test func interruptedEventsAreReportedAsInterruptedNotDead() async throws {
        // seq 1 stays on the wire for a second; `finish` runs out of time while it does and abandons it.
        let script: ScriptedIngestServer.Script = { request, _ in
            request.seq == 1 ? IngestReply(delay: .seconds(1)) : .ok
        }
        try await ScriptedIngestServer.with(script: script) { server, endpoint in
            let settled = Settled()
            let engine = try DeliveryEngine(
                configuration: SpoolFixture.configuration(endpoint) { $0.concurrency = 1 }, deadLetters: nil,
                context: DeadLetterContext(), onSettled: { settled.record($0, $1) })
            try await onThread {
                engine.submit((1...4).map { SpoolFixture.track("ann", seq: $0) }, source: "r", tags: [1, 2, 3, 4])
            }
            await eventually("seq 1 is on the wire", timeout: .seconds(5)) { !server.received.isEmpty }
            try await onThread {
                _ = engine.finish(timeout: 0.05)
                engine.submit([SpoolFixture.track("ann", seq: 5)], source: "late", tags: [5])
            }
            let outcomes = settled.byTag
            #expect(settled.all.count == 5)
            // Issue 7: the deadline bounds the wait, so the request still on the wire is abandoned.
            #expect(server.received.count == 1, "nothing starts after the deadline")
            for tag: Int64 in 1...5 {
                guard case .interrupted(let error)? = outcomes[tag] else {
                    Issue.record("tag \(tag): \(String(describing: outcomes[tag]))")
                    continue
                }
                #expect(error.kind == .interrupted)
            }
        }
    }
}
