import EnchargeKit
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import EnchargeSpool

/// A refused write key (401/403) is the key's fault, not the events': the worker keeps them
/// pending, pauses, tries again now and then, and resumes once the key is accepted.
@Suite(.timeLimit(.minutes(1)))
struct SpoolWriteKeyRefusalTests {
    /// The statuses `onKeyRefusal` heard, in order (nil: resumed).
    final class Notices: Sendable {
        private let values = Mutex<[Int?]>([])
        func add(_ status: Int?) { values.withLock { $0.append(status) } }
        var all: [Int?] { values.withLock { $0 } }
    }

    /// Whether the next answer is the first.
    final class FirstAnswer: Sendable {
        let value = Atomic<Bool>(true)
    }

    @Test(arguments: [401, 403])
    func aRefusedKeyPausesWithEveryEventPendingAndResumesInOrderOnceAccepted(status: Int) async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(status, body: #"{"error":"invalid token"}"#) }) {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            for seq in 0..<20 {
                _ = try await spool.accept(
                    requestID: "req-\(seq)", dedupKey: nil, events: [SpoolFixture.track("payer", seq: seq)],
                    source: "POST /"
                )
            }
            let notices = Notices()
            let worker = try SpoolDeliveryWorker(
                spool: spool,
                configuration: SpoolFixture.configuration(endpoint) {
                    $0.maxAttempts = 1
                    $0.refusalsBeforeStop = 3
                },
                refusalPolicy: WriteKeyRefusalPolicy(retryInterval: 0.2),
                onKeyRefusal: { notices.add($0) })
            worker.start()
            #expect(await eventually("the worker reports the refused key") { worker.refusedWriteKeyStatus == status })
            // Paused: a few probes, one request each, and nothing given up on.
            let refusedSoFar = server.received.count
            #expect(
                await eventually("the worker keeps probing the refused key") {
                    server.received.count >= refusedSoFar + 2
                })
            let stats = try await spool.stats()
            #expect(stats.dead == 0)
            #expect(stats.pending == 20)
            #expect(worker.stats().dead == 0)
            #expect(notices.all == [status], "the refusal is reported once")

            server.answer { _, _ in .ok }
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            #expect(worker.refusedWriteKeyStatus == nil)
            #expect(notices.all == [status, nil])
            #expect(server.accepted.compactMap(\.seq) == Array(0..<20), "delivered once each, in order")
            #expect(try await spool.stats().dead == 0)
            _ = try await onThread { worker.stop(timeout: 5) }
        }
    }

    @Test func aSingleRefusalAmongDeliveriesDoesNotPauseAndLosesNothing() async throws {
        // The first answer is a 401; every other one is accepted.
        let first = FirstAnswer()
        try await ScriptedIngestServer.with(script: { _, _ in
            first.value.exchange(false, ordering: .relaxed) ? .status(401) : .ok
        }) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            for seq in 0..<5 {
                _ = try await spool.accept(
                    requestID: "req-\(seq)", dedupKey: nil, events: [SpoolFixture.track("p\(seq)", seq: seq)],
                    source: "POST /")
            }
            let notices = Notices()
            let worker = try SpoolDeliveryWorker(
                spool: spool,
                configuration: SpoolFixture.configuration(endpoint) {
                    $0.maxAttempts = 1
                    $0.refusalsBeforeStop = 3
                },
                refusalPolicy: WriteKeyRefusalPolicy(retryInterval: 30),
                onKeyRefusal: { notices.add($0) })
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<5))
            #expect(server.accepted.count == 5, "nothing delivered twice")
            #expect(try await spool.stats().dead == 0)
            #expect(notices.all.isEmpty)
            _ = try await onThread { worker.stop(timeout: 5) }
        }
    }
}
