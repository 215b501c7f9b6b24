import EnchargeKit
import Foundation
import TestSupport
import Testing

@testable import EnchargeSpool

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` in the middle of delivery loses no accepted request. The test runs its own test
/// binary again as a child process, filtered to this test, with the spool path and the endpoint in
/// the environment: the child accepts requests, starts delivering, and SIGKILLs itself; the parent
/// then reopens the spool and delivers what is left.
@Suite(.timeLimit(.minutes(1)))
struct SpoolCrashTests {
    static let childPathVariable = "ENCHARGE_SPOOL_CRASH_CHILD_PATH"
    static let childEndpointVariable = "ENCHARGE_SPOOL_CRASH_CHILD_ENDPOINT"
    static let people = 10
    static let requestsPerPerson = 10

    /// The child's part: accept every request (one task per person, each person's requests in
    /// order, so the group commits interleave), say so, deliver a while, then die without cleanup.
    static func childAcceptsThenDies(path: String, endpoint: String) async throws -> Never {
        let spool = try SQLiteSpool(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for person in 0..<people {
                group.addTask {
                    for round in 0..<requestsPerPerson {
                        let seq = round * people + person
                        let result = try await spool.accept(
                            requestID: "req-\(seq)", dedupKey: "delivery-\(seq)",
                            events: [
                                SpoolFixture.identify("person-\(person)", request: seq),
                                SpoolFixture.track("person-\(person)", seq: seq),
                            ],
                            source: "POST /hook")
                        precondition(result == .accepted)
                    }
                }
            }
            try await group.waitForAll()
        }
        FileHandle.standardOutput.write(Data("SPOOL-CHILD accepted \(people * requestsPerPerson)\n".utf8))
        let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
        worker.start()
        await eventually("the child delivers 40 events before it dies") { worker.stats().delivered >= 40 }
        kill(getpid(), SIGKILL)
        exit(3)
    }

    @Test func aKilledProcessLosesNoAcceptedRequestAndARestartDeliversTheRest() async throws {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[Self.childPathVariable], let endpoint = environment[Self.childEndpointVariable] {
            try await Self.childAcceptsThenDies(path: path, endpoint: endpoint)
        }
        let total = Self.people * Self.requestsPerPerson
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(3)) }) {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let path = tmp.file("spool.db")
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = [
                "--testing-library", "swift-testing",
                "--filter", "SpoolCrashTests/aKilledProcessLosesNoAcceptedRequestAndARestartDeliversTheRest",
            ]
            var childEnvironment = environment
            childEnvironment[Self.childPathVariable] = path
            childEnvironment[Self.childEndpointVariable] = endpoint
            child.environment = childEnvironment
            let output = Pipe()
            child.standardOutput = output
            child.standardError = FileHandle.nullDevice
            try child.run()
            let printed = try await onThread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                child.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
            #expect(printed.contains("SPOOL-CHILD accepted \(total)"), "the child printed: \(printed)")
            #expect(child.terminationReason == .uncaughtSignal)
            #expect(child.terminationStatus == SIGKILL)
            // Requests the child had on the wire may still be answered by the server: let them end.
            await eventually("the server is done with the dead child's connections") {
                server.openConnections == 0 && server.inFlight == 0
            }
            let sentBeforeKill = server.accepted.count
            #expect(sentBeforeKill >= 40)

            // Every accepted request is still there: delivered (and marked) or pending.
            let spool = try SQLiteSpool(path: path)
            let before = try await spool.stats()
            #expect(before.pending + before.delivered == 2 * total)
            #expect(before.pending > 0)
            #expect(before.dead == 0)
            #expect(before.delivered <= sentBeforeKill, "only what the API accepted is marked delivered")

            let worker = try SpoolDeliveryWorker(spool: spool, configuration: SpoolFixture.configuration(endpoint))
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            _ = try await onThread { worker.stop(timeout: 5) }
            #expect(try await spool.stats().delivered == 2 * total)
            let accepted = server.accepted
            #expect(Set(accepted.compactMap(\.seq)) == Set(0..<total))
            #expect(Set(accepted.filter { $0.name == "identify" }.map(\.body)).count == total)
            // At least once: what the API accepted but the spool had not marked is sent again, and
            // nothing else is (the restart sends each pending event once, no retries here).
            #expect(accepted.count == sentBeforeKill + before.pending)
            // In order: each person's first sendings keep spool order.
            for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(accepted) {
                #expect(SpoolFixture.isAscending(seqs), "\(person) out of order across the kill: \(seqs)")
            }
        }
    }
}
