import EnchargeKit
import GRDB
import JSONKit
import TestSupport
import Testing

@testable import EnchargeSpool

/// A spool written before lanes (schema v1) is upgraded on open: each stored event gets its lane
/// and identity key, and a pending event that no longer validates is marked dead.
@Suite(.timeLimit(.minutes(1)))
struct SpoolMigrationTests {
    @Test func aV1SpoolGetsLanesAndKeysAndItsInvalidPendingEventsAreMarkedDead() async throws {
        let tmp = try TemporaryDirectory(prefix: "spool")
        defer { tmp.cleanup() }
        let path = tmp.file("spool.db")
        let valid = SpoolFixture.track("ann", seq: 1)
        let deadBefore = SpoolFixture.track("bob", seq: 2)
        let invalid = #"{"name":"x","user":{}}"#
        do {
            let queue = try DatabaseQueue(path: path)
            try SpoolSchema.migrator.migrate(queue, upTo: "v1")
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO request (request_id, source, accepted_at) VALUES ('r', 't', 1)")
                for (json, state) in [
                    (String(decoding: valid.wireJSON(), as: UTF8.self), "pending"), (invalid, "pending"),
                    (String(decoding: deadBefore.wireJSON(), as: UTF8.self), "dead"),
                ] {
                    try db.execute(
                        sql: "INSERT INTO event (request, json, state) VALUES (1, ?, ?)", arguments: [json, state])
                }
            }
            try queue.close()
        }
        let spool = try SQLiteSpool(path: path)
        let pending = try spool.pendingEvents(after: 0, lanes: SpoolLanes.all, limit: 10)
        #expect(pending.map(\.event) == [valid])
        #expect(pending.first?.identityKey == "ann")
        #expect(pending.first?.lane == SpoolLanes.lane(ofIdentityKey: "ann"))
        let dead = try await spool.deadEvents()
        #expect(dead.map(\.id) == [2, 3])
        #expect(dead.first?.reason.hasPrefix("the stored event is not valid: ") == true)
        #expect(dead.first?.event == (try JSONValue(parsing: invalid)))
        // The event that was dead before keeps its state, and a requeue puts it in its lane.
        #expect(try await spool.requeueDeadEvents() == 2)
        let requeued = try spool.pendingEvents(after: 1, lanes: SpoolLanes.all, limit: 10)
        #expect(requeued.last?.identityKey == deadBefore.identityKey)
        #expect(requeued.last?.lane == SpoolLanes.lane(ofIdentityKey: deadBefore.identityKey))
    }
}
