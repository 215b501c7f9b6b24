import Testing

@testable import EnchargeSpool

/// The worker's per-lane cursors: a newly held lane starts at the beginning, a released one is
/// forgotten, and a read moves every held lane only as far as it covered.
@Suite struct LaneReaderTests {
    static func event(_ id: Int64, lane: Int) -> SpoolPendingEvent {
        SpoolPendingEvent(id: id, request: id, requestID: "r\(id)", source: "t", lane: lane, identityKey: "k", wire: [])
    }

    @Test func aNewlyHeldLaneIsReadFromTheBeginningAndAPassedOneIsSkipped() {
        var reader = LaneReader()
        reader.hold([1, 2])
        #expect(reader.readFrom == 0)
        let read = [Self.event(5, lane: 1), Self.event(7, lane: 2), Self.event(9, lane: 1)]
        reader.submitted(read[...])
        reader.caughtUp(with: read, limit: 100)
        #expect(reader.readFrom == 9)
        #expect(!reader.isUnread(Self.event(9, lane: 1)))
        #expect(reader.isUnread(Self.event(10, lane: 2)))

        reader.hold([1, 2, 3])
        #expect(reader.readFrom == 0, "lane 3 is read from its beginning")
        #expect(reader.isUnread(Self.event(4, lane: 3)))
        #expect(!reader.isUnread(Self.event(5, lane: 1)), "lane 1 already passed 5")
        reader.hold([3])
        #expect(!reader.isUnread(Self.event(20, lane: 1)), "a released lane is not read")
        #expect(reader.held == [3])
    }

    @Test func aReadCutByTheLimitCoversLanesOnlyUpToTheLimit() {
        var reader = LaneReader()
        reader.hold([1, 2])
        // Limit 2: the read covered ids up to 6; 8 is the rest of the last request (lane 1 only).
        let read = [Self.event(3, lane: 1), Self.event(6, lane: 1), Self.event(8, lane: 1)]
        reader.submitted(read[...])
        reader.caughtUp(with: read, limit: 2)
        #expect(reader.readFrom == 6, "lane 2 is covered only up to 6")
        #expect(reader.isUnread(Self.event(7, lane: 2)))
        #expect(!reader.isUnread(Self.event(8, lane: 1)))
        reader.restart()
        #expect(reader.readFrom == 0)
        #expect(reader.isUnread(Self.event(3, lane: 1)))
    }

    @Test func anEventOnTheWireWhenItsLaneIsHeldAgainCountsAsReadUntilTheCursorPassesIt() {
        var reader = LaneReader()
        reader.hold([1, 2], onWire: [4: 1, 6: 3])
        #expect(!reader.isUnread(Self.event(4, lane: 1)), "on the engine: read, though past the cursor")
        #expect(reader.isUnread(Self.event(5, lane: 1)))
        #expect(reader.readFrom == 0)
        let read = [Self.event(4, lane: 1), Self.event(5, lane: 1)]
        reader.submitted(read[1...])
        reader.caughtUp(with: read, limit: 100)
        // Lane 3 is taken later: event 6 of it is no longer remembered (it was not held then).
        reader.hold([1, 2, 3])
        #expect(reader.isUnread(Self.event(6, lane: 3)))
        reader.hold([1, 2, 3], onWire: [7: 3])
        reader.restart()
        #expect(reader.isUnread(Self.event(4, lane: 1)), "a restart reads everything again")
        #expect(reader.isUnread(Self.event(7, lane: 3)))
    }
}
