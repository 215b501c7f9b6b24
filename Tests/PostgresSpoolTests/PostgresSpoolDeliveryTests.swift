import EnchargeKit
import EnchargeSpool
import PostgresSpool
import TestSupport
import Testing

/// Delivery workers of separate processes (each its own spool on one database) drain what a third
/// accepts meanwhile: every event once, in per-person order, the lanes shared between them.
@Suite(.timeLimit(.minutes(2)))
struct PostgresSpoolDeliveryTests {
    @Test func twoWorkersShareTheLanesAndKeepPerPersonOrder() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let database = try SpoolDatabase()
            let replica = try await database.open()
            let first = try await database.open()
            let second = try await database.open()
            let workers = try [first, second].map {
                try SpoolDeliveryWorker(
                    spool: $0, configuration: Delivery.configuration(endpoint), batchSize: 50, balanceInterval: 0.2)
            }
            for worker in workers { worker.start() }
            // The lanes spread before the load: half each, none held by both.
            #expect(
                try await eventually("each worker holds half the lanes") {
                    workers.allSatisfy { $0.heldLanes.count == 32 }
                })
            #expect(workers[0].heldLanes.isDisjoint(with: workers[1].heldLanes))
            let requests = 600
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<6 {
                    group.addTask {
                        for index in stride(from: batch, to: requests, by: 6) {
                            let person = "person-\(index % 23)"
                            _ = try await replica.accept(
                                requestID: "req-\(index)", dedupKey: "d-\(index)",
                                events: [Events.track(person, seq: index)], source: "POST /hook", dedupWindow: 60)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(
                try await eventually("the spool drains", timeout: .seconds(60)) {
                    try await replica.stats().pending == 0
                })
            for worker in workers { await worker.shutdown(timeout: 5) }
            let accepted = server.accepted
            #expect(accepted.count == requests, "every event once: no lane was delivered by both workers")
            #expect(Set(accepted.compactMap(\.seq)) == Set(0..<requests))
            var byPerson: [String: [Int]] = [:]
            for request in accepted {
                if let person = request.person, let seq = request.seq { byPerson[person, default: []].append(seq) }
            }
            for (person, seqs) in byPerson {
                #expect(seqs == seqs.sorted(), "\(person) out of order: \(seqs)")
            }
            #expect(
                workers.allSatisfy { $0.stats().delivered > 0 },
                "both workers delivered: \(workers.map { ($0.stats().delivered, $0.heldLanes.count, $0.lastError) })")
            #expect(try await replica.stats().delivered == requests)
            for spool in [replica, first, second] { await spool.close() }
        }
    }

    @Test func aSecondWorkerJoiningUnderLoadTakesLanesWithoutDuplicatesOrReordering() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply.mock.delayed(by: .milliseconds(2)) }) {
            server, endpoint in
            let database = try SpoolDatabase()
            let replica = try await database.open()
            let first = try await database.open()
            let second = try await database.open()
            let workers = try [first, second].map {
                try SpoolDeliveryWorker(
                    spool: $0, configuration: Delivery.configuration(endpoint), batchSize: 20, balanceInterval: 0.1)
            }
            workers[0].start()
            let requests = 600
            func accept(_ range: Range<Int>) async throws {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for batch in 0..<4 {
                        group.addTask {
                            for index in stride(from: range.lowerBound + batch, to: range.upperBound, by: 4) {
                                _ = try await replica.accept(
                                    requestID: "req-\(index)", dedupKey: nil,
                                    events: [Events.track("person-\(index % 17)", seq: index)], source: "POST /hook",
                                    dedupWindow: 60)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await accept(0..<300)
            #expect(await eventually("the first worker is delivering") { server.accepted.count > 20 })
            // The second joins while the first has events on the wire: lanes move between them.
            workers[1].start()
            try await accept(300..<requests)
            #expect(
                try await eventually("the spool drains", timeout: .seconds(60)) {
                    try await replica.stats().pending == 0
                })
            for worker in workers { await worker.shutdown(timeout: 5) }
            let accepted = server.accepted
            #expect(accepted.count == requests, "every event once across the handoff")
            #expect(Set(accepted.compactMap(\.seq)) == Set(0..<requests))
            var byPerson: [String: [Int]] = [:]
            for request in accepted {
                if let person = request.person, let seq = request.seq { byPerson[person, default: []].append(seq) }
            }
            for (person, seqs) in byPerson {
                #expect(seqs == seqs.sorted(), "\(person) out of order: \(seqs)")
            }
            #expect(workers[1].stats().delivered > 0, "the second worker took lanes under load")
            for spool in [replica, first, second] { await spool.close() }
        }
    }
}
