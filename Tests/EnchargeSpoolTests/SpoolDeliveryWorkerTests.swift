import EnchargeKit
import Foundation
import GRDB
import JSONKit
import TestSupport
import Testing

@testable import EnchargeSpool

/// The delivery worker against a real HTTP server on 127.0.0.1: retries, per-person order across
/// requests and restarts, dead events kept in the spool and requeued, bounded reads.
@Suite(.timeLimit(.minutes(1)))
struct SpoolDeliveryWorkerTests {
    /// Accepts `count` requests: request i is [identify(p), track(p, seq: i)] for person p = i % people.
    static func acceptRequests(_ spool: SQLiteSpool, count: Int, people: Int, from first: Int = 0) async throws {
        for index in first..<(first + count) {
            let person = "person-\(index % people)"
            let result = try await spool.accept(
                requestID: "req-\(index)", dedupKey: nil,
                events: [SpoolFixture.identify(person, request: index), SpoolFixture.track(person, seq: index)],
                source: "POST /hook")
            #expect(result == .accepted)
        }
    }

    /// Stops through the async `shutdown` (the crash test and the engine tests use the blocking `stop`).
    static func stop(_ worker: SpoolDeliveryWorker, timeout: Double = 5) async throws {
        await worker.shutdown(timeout: timeout)
    }

    // MARK: Delivery

    @Test func deliversEveryEventInPerPersonOrderThroughRetries() async throws {
        // Every third event fails once with 500, every fifth once with 429 and Retry-After: 0.
        let script: ScriptedIngestServer.Script = { request, attempt in
            guard attempt == 1, let seq = request.seq else { return .ok }
            if seq % 3 == 0 { return .status(500) }
            if seq % 5 == 0 { return .status(429, retryAfter: "0") }
            return .ok
        }
        try await ScriptedIngestServer.with(script: script) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            try await Self.acceptRequests(spool, count: 120, people: 7)
            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            try await Self.stop(worker)

            let accepted = server.accepted
            #expect(Set(accepted.compactMap(\.seq)) == Set(0..<120))
            #expect(accepted.filter { $0.name == "identify" }.count == 120)
            for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(accepted) {
                #expect(SpoolFixture.isAscending(seqs), "\(person) out of order: \(seqs)")
            }
            // Within each request the identify went before its track.
            for (index, request) in accepted.enumerated() {
                guard let seq = request.seq else { continue }
                let identify = accepted.firstIndex { $0.json?["user"]?["lastRequest"] == .integer(Int64(seq)) }
                #expect(identify.map { $0 < index } == true, "request \(seq): track before its identify")
            }
            #expect(server.received.allSatisfy { $0.token == SpoolFixture.writeKey })
            let stats = try await spool.stats()
            #expect(stats.delivered == 240)
            #expect(stats.dead == 0)
            let workerStats = worker.stats()
            #expect(workerStats.delivered == 240)
            #expect(workerStats.retried == 40 + 16)
            #expect(workerStats.dead == 0)
            #expect(workerStats.inFlight == 0)
            #expect(workerStats.p99 >= workerStats.p50)
            let requestRows = try await spool.store.pool.read {
                try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM request")
            }
            #expect(requestRows == 0, "a request's row goes with its last event")
        }
    }

    @Test func picksUpRequestsAcceptedWhileRunning() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            for round in 0..<5 {
                try await Self.acceptRequests(spool, count: 10, people: 3, from: round * 10)
                // The next round is accepted while the worker runs idle, having delivered this one.
                try await eventually("round \(round) is delivered") { try await spool.stats().pending == 0 }
            }
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            try await Self.stop(worker)
            #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<50))
            for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(server.accepted) {
                #expect(SpoolFixture.isAscending(seqs), "\(person) out of order: \(seqs)")
            }
        }
    }

    @Test func readsInSmallBatchesUnderBackpressureAndKeepsRequestsWhole() async throws {
        // Batches of 5 rows, at most 8 events queued in the engine; requests of 1 to 12 events,
        // each request a mix of people: its events must still be accepted in emission order.
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(1)) }) {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            var requests: [[Event]] = []
            var seq = 0
            for index in 0..<60 {
                let size = 1 + (index * 7) % 12
                requests.append(
                    (0..<size).map { _ in
                        seq += 1
                        return SpoolFixture.track("p\((seq * 5) % 11)", seq: seq)
                    })
            }
            for (index, events) in requests.enumerated() {
                _ = try await spool.accept(requestID: "r\(index)", dedupKey: nil, events: events, source: "t")
            }
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint) { $0.maxQueuedEvents = 8 },
                batchSize: 5)
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            try await Self.stop(worker)
            let order = Dictionary(uniqueKeysWithValues: server.accepted.enumerated().map { ($1.seq!, $0) })
            #expect(order.count == seq)
            for events in requests {
                let positions = events.map { order[Int($0.properties!["seq"]!.integerValue!)]! }
                #expect(SpoolFixture.isAscending(positions), "a request's events were reordered: \(positions)")
            }
        }
    }

    // MARK: Dead events

    @Test func rejectedAndExhaustedEventsStayDeadInTheSpoolUntilRequeued() async throws {
        // seq 3 is rejected (400); seq 5 always gets 503 until the script changes.
        let rejecting: ScriptedIngestServer.Script = { request, _ in
            switch request.seq {
            case 3: .status(400, body: #"{"error":"user.email is not an email"}"#)
            case 5: .status(503, body: "maintenance")
            default: .ok
            }
        }
        try await ScriptedIngestServer.with(script: rejecting) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            for seq in 1...6 {
                _ = try await spool.accept(
                    requestID: "r\(seq)", dedupKey: nil, events: [SpoolFixture.track("ann", seq: seq)],
                    source: "POST /hook")
            }
            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })

            var stats = try await spool.stats()
            #expect(stats.delivered == 4)
            #expect(stats.dead == 2)
            #expect(worker.stats().dead == 2)
            let dead = try await spool.deadEvents()
            #expect(dead.map(\.requestID) == ["r3", "r5"])
            #expect(dead[0].status == 400)
            #expect(dead[0].body == #"{"error":"user.email is not an email"}"#)
            #expect(dead[0].attempts == 1)
            #expect(dead[0].reason.contains("HTTP 400"))
            #expect(dead[0].event["properties"]?["seq"] == .integer(3))
            #expect(dead[1].status == 503)
            #expect(dead[1].body == "maintenance")
            #expect(dead[1].attempts == 4)
            #expect(dead[1].reason.contains("gave up after 4 attempts"))
            // The dead events did not hold back the person's later events.
            #expect(SpoolFixture.acceptedSeqsByPerson(server.accepted)["ann"] == [1, 2, 4, 6])

            // The cause is fixed: requeue, and the running worker delivers them.
            server.answer { _, _ in .ok }
            #expect(try await spool.requeueDeadEvents() == 2)
            #expect(try await spool.stats().dead == 0)
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            try await Self.stop(worker)
            stats = try await spool.stats()
            #expect(stats.delivered == 6)
            #expect(stats.dead == 0)
            #expect(try await spool.requeueDeadEvents() == 0)
            #expect(SpoolFixture.acceptedSeqsByPerson(server.accepted)["ann"] == [1, 2, 4, 6, 3, 5])
        }
    }

    @Test func storedEventsGoOutAsStoredWithoutBeingValidatedAgain() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let spool = try SQLiteSpool(path: path)
            _ = try await spool.accept(
                requestID: "r", dedupKey: nil,
                events: [SpoolFixture.track("ann", seq: 1), SpoolFixture.track("ann", seq: 2)],
                source: "t")
            // Events were validated when accepted; the worker trusts the stored bytes, so an edited
            // row that would no longer validate goes out byte for byte (and the API refuses it).
            let edited = #"{"name":"x","user":{}}"#
            try await spool.store.pool.write { db in
                try db.execute(
                    sql: "UPDATE event SET json = ? WHERE id = (SELECT MIN(id) FROM event)", arguments: [edited])
            }
            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            try await Self.stop(worker)
            #expect(server.received.first?.text == edited)
            #expect(server.accepted.compactMap(\.seq) == [2])
            let dead = try await spool.deadEvents()
            #expect(dead.count == 1)
            #expect(dead.first?.status == 400)
        }
    }

    // MARK: Stop and restart

    @Test func stopLeavesUndeliveredEventsPendingAndARestartDeliversThemInOrder() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(30)) }) {
            server, endpoint in
            let spool = try SQLiteSpool(path: path)
            try await Self.acceptRequests(spool, count: 80, people: 4)
            let first = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint) { $0.concurrency = 2 })
            first.start()
            #expect(await eventually("10 events are accepted") { server.accepted.count >= 10 })
            try await Self.stop(first, timeout: 0)
            let afterStop = try await spool.stats()
            #expect(afterStop.pending > 0, "stop(timeout: 0) must not drain the spool")
            #expect(afterStop.dead == 0, "interrupted events are not dead")
            #expect(afterStop.pending + afterStop.delivered == 160)
            #expect(first.stats().dead == 0)
            let deliveredFirst = server.accepted.count

            // A new worker on a re-opened spool, as after a restart.
            let reopened = try SQLiteSpool(path: path)
            let second = try SpoolDeliveryWorker(spool: reopened, configuration: SpoolFixture.configuration(endpoint))
            second.start()
            #expect(try await eventually("the spool drains") { try await reopened.stats().pending == 0 })
            try await Self.stop(second)
            #expect(try await reopened.stats().delivered == 160)
            #expect(deliveredFirst < server.accepted.count)
            #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<80))
            for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(server.accepted) {
                #expect(SpoolFixture.isAscending(seqs), "\(person) out of order across the restart: \(seqs)")
            }
        }
    }
}

extension JSONValue {
    fileprivate var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}
