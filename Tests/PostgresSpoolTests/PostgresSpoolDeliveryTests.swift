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

/// One worker process beside two accepting replicas (`serve --no-deliver` and `deliver`): under a
/// steady load nothing is sent twice, since no process dies.
@Suite(.timeLimit(.minutes(3)))
struct PostgresSpoolWorkerBesideReplicasTests {
    @Test func aLoneWorkerSendsEveryEventOnceWhileTwoReplicasAccept() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let database = try SpoolDatabase()
            let replicas = [try await database.open(), try await database.open()]
            let spool = try await database.open()
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: Delivery.configuration(endpoint), batchSize: 500, balanceInterval: 0.2)
            worker.start()
            #expect(try await eventually("the worker holds every lane") { worker.heldLanes.count == spool.laneCount })
            let requests = 4000
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<16 {
                    group.addTask {
                        for index in stride(from: lane, to: requests, by: 16) {
                            _ = try await replicas[index % 2].accept(
                                requestID: "req-\(index)", dedupKey: "d-\(index)",
                                events: [
                                    Events.track("person-\(index % 97)", seq: 2 * index),
                                    Events.track("person-\(index % 89)", seq: 2 * index + 1),
                                ], source: "POST /hook", dedupWindow: 60)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(
                try await eventually("the spool drains", timeout: .seconds(90)) {
                    try await spool.stats().pending == 0
                })
            await worker.shutdown(timeout: 5)
            let seqs = server.accepted.compactMap(\.seq)
            var seen = Set<Int>()
            let twice = seqs.filter { !seen.insert($0).inserted }
            #expect(
                twice.isEmpty, "sent twice with no process killed: \(twice.count) events, first \(twice.prefix(10))")
            #expect(seen == Set(0..<2 * requests))
            for spool in replicas + [spool] { await spool.close() }
        }
    }
}
