import EnchargeKit
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import EnchargeSpool

#if canImport(Glibc)
import Glibc
#endif

/// The worker delivers only the lanes the spool leaves it: a newly held lane is read from its
/// beginning, a released one is no longer read, and a lane with events on the wire is offered
/// as busy.
@Suite(.timeLimit(.minutes(1)))
struct SpoolWorkerLaneTests {
    static func lane(of person: String) -> Int { SpoolLanes.lane(ofIdentityKey: person) }

    /// Request i is one track of person `person-(i % people)` carrying seq i.
    static func accept(_ spool: any EventSpool, _ range: Range<Int>, people: Int) async throws {
        for index in range {
            _ = try await spool.accept(
                requestID: "req-\(index)", dedupKey: nil,
                events: [SpoolFixture.track("person-\(index % people)", seq: index)],
                source: "POST /hook")
        }
    }

    @Test func onlyHeldLanesAreDeliveredAndANewlyHeldLaneFromItsBeginning() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let people = 24
            let firstLanes = Set((0..<8).map { Self.lane(of: "person-\($0)") })
            let spool = LaneAssignedSpool(try SQLiteSpool(path: tmp.file("spool.db")), assigned: firstLanes)
            try await Self.accept(spool, 0..<240, people: people)
            let inFirstLanes = (0..<240).filter { firstLanes.contains(Self.lane(of: "person-\($0 % people)")) }
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint), batchSize: 16, balanceInterval: 0.05)
            worker.start()
            #expect(await eventually("the first lanes' events arrive") { server.accepted.count >= inFirstLanes.count })
            #expect(worker.heldLanes == firstLanes)
            #expect(Set(server.accepted.compactMap(\.seq)) == Set(inFirstLanes), "only held lanes are read")
            // Settlements are gathered for up to 20 ms before their commit.
            #expect(
                try await eventually("the delivered events leave the spool") {
                    try await spool.stats().pending == 240 - inFirstLanes.count
                })

            // The other lanes, held from now on, are read from their beginning; more events of
            // every lane arrive meanwhile.
            spool.assign(SpoolLanes.all)
            try await Self.accept(spool, 240..<300, people: people)
            #expect(try await eventually("everything is delivered") { try await spool.stats().pending == 0 })
            worker.stop(timeout: 5)
            #expect(server.accepted.count == 300, "each event once")
            #expect(Set(server.accepted.compactMap(\.seq)) == Set(0..<300))
            for (person, seqs) in SpoolFixture.acceptedSeqsByPerson(server.accepted) {
                #expect(SpoolFixture.isAscending(seqs), "\(person) out of order: \(seqs)")
            }
        }
    }

    /// A lane lost while its event is on the wire (a failed balance) and taken again: the event
    /// settles after the worker committed its settlements for the new lane but before its first
    /// read of it is filtered; the read still finds it pending (its settlement is not committed),
    /// yet it is not sent again.
    @Test func anEventOnTheWireWhenItsLaneIsTakenAgainIsNotSentTwice() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply.status(400).delayed(by: .milliseconds(500)) })
        {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let spool = LaneAssignedSpool(try SQLiteSpool(path: tmp.file("spool.db")), assigned: SpoolLanes.all)
            try await Self.accept(spool, 0..<1, people: 1)
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint), batchSize: 16, balanceInterval: 0.02)
            worker.start()
            #expect(await eventually("the event is on the wire") { server.received.count == 1 })
            // The 400 settles it dead: the worker counts it in the same step that takes it off the wire.
            spool.loseLanes(thenOnRead: {
                let end = SystemClock.monotonicSeconds() + 10
                while worker.stats().dead == 0 && SystemClock.monotonicSeconds() < end { usleep(1000) }
            })
            #expect(try await eventually("the event is kept dead") { try await spool.stats().dead == 1 })
            #expect(worker.heldLanes == SpoolLanes.all)
            worker.stop(timeout: 5)
            #expect(server.received.count == 1, "sent once: \(server.received.compactMap(\.seq))")
        }
    }

    /// `deliver`'s status shows `; last error: ...` while reading the spool fails, and no longer
    /// once a balance and a read succeed again.
    @Test func aSpoolReadFailureIsTheLastErrorOnlyUntilTheNextSuccess() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let spool = LaneAssignedSpool(try SQLiteSpool(path: tmp.file("spool.db")), assigned: SpoolLanes.all)
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint), batchSize: 16, balanceInterval: 0.02)
            spool.failBalances(true)
            worker.start()
            #expect(
                await eventually("the failure is reported") {
                    worker.lastError == "\(spool.displayName): lost the connection holding the lanes"
                }, "\(worker.lastError ?? "nil")")
            #expect(worker.heldLanes.isEmpty)
            spool.failBalances(false)
            try await Self.accept(spool, 0..<4, people: 2)
            #expect(await eventually("the events go out") { server.accepted.count == 4 })
            #expect(await eventually("the failure is no longer reported") { worker.lastError == nil })
            worker.stop(timeout: 5)
        }
    }

    @Test func aReleasedLaneIsNoLongerReadAndABusyLaneIsOffered() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(15)) }) {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let spool = LaneAssignedSpool(try SQLiteSpool(path: tmp.file("spool.db")), assigned: SpoolLanes.all)
            let people = 6
            try await Self.accept(spool, 0..<60, people: people)
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint), batchSize: 16, balanceInterval: 0.02)
            worker.start()
            #expect(try await eventually("the spool drains") { try await spool.stats().pending == 0 })
            let peopleLanes = Set((0..<people).map { Self.lane(of: "person-\($0)") })
            let offers = spool.busyOffers
            #expect(!offers.isEmpty, "events were on the wire at some balance")
            #expect(offers.allSatisfy { $0.isSubset(of: peopleLanes) }, "busy lanes are lanes of submitted events")

            // Give up person-0's lane: its new events stay pending, everyone else's go out.
            let released = Self.lane(of: "person-0")
            spool.assign(SpoolLanes.all.subtracting([released]))
            #expect(await eventually("the lane is released") { !worker.heldLanes.contains(released) })
            try await Self.accept(spool, 60..<120, people: people)
            let ofReleased = (60..<120).filter { Self.lane(of: "person-\($0 % people)") == released }
            #expect(
                try await eventually("all but the released lane's events arrive") {
                    try await spool.stats().pending == ofReleased.count
                })
            #expect(Set(server.accepted.compactMap(\.seq)).isDisjoint(with: ofReleased))
            worker.stop(timeout: 5)
        }
    }

    @Test func aBusyLaneTakenByAnotherProcessIsWithdrawnFromTheWireUnsettled() async throws {
        let slow = Mutex(true)
        try await ScriptedIngestServer.with(script: { request, _ in
            request.person == "person-0" && slow.withLock({ $0 }) ? IngestReply(delay: .seconds(3)) : .mock
        }) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "spool")
            defer { tmp.cleanup() }
            let spool = LaneAssignedSpool(try SQLiteSpool(path: tmp.file("spool.db")), assigned: SpoolLanes.all)
            // Three requests of person-0: the first goes on the wire and hangs, the others queue behind it.
            try await Self.accept(spool, 0..<3, people: 1)
            let lane = Self.lane(of: "person-0")
            let worker = try SpoolDeliveryWorker(
                spool: spool, configuration: SpoolFixture.configuration(endpoint), batchSize: 16, balanceInterval: 0.05)
            worker.start()
            #expect(await eventually("the first event is on the wire") { server.received.count == 1 })
            // Another process took the lane (this one's lock connection was lost): the events of
            // it on the wire and queued are withdrawn, none settled.
            spool.takeAway([lane])
            #expect(
                await eventually("the worker withdraws the lane's events", timeout: .seconds(10)) {
                    worker.lastError?.contains("lost lanes [\(lane)]") == true && worker.stats().inFlight == 0
                })
            #expect(try await spool.stats().pending == 3, "nothing of the lost lane was settled")
            // Held again, the lane is read from its start and sent in order.
            slow.withLock { $0 = false }
            spool.assign(SpoolLanes.all)
            #expect(try await eventually("everything is delivered") { try await spool.stats().pending == 0 })
            worker.stop(timeout: 5)
            #expect(server.received.compactMap(\.seq) == [0, 0, 1, 2], "seq 1 and 2 never left the withdrawn engine")
        }
    }
}
