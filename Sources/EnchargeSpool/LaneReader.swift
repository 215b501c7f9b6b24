/// How far the delivery worker has read each lane it holds: every pending event of a lane up to
/// its cursor is on the engine (or settled). A newly held lane starts at 0, so it is read from
/// the beginning; a released lane is forgotten, so it is no longer read. One read covers every
/// held lane, from the lowest cursor, and skips what each lane already passed.
///
/// Relies on the spool's order promise: an event committed after a read has a greater id than
/// every event that read returned.
struct LaneReader {
    /// The lanes this process holds now.
    private(set) var held: Set<Int> = []
    private var cursors: [Int: Int64] = [:]
    /// Events past their lane's cursor that count as read: on the engine when their lane was newly
    /// held (id → lane). Forgotten once the cursor passes them or their lane is released.
    private var onWire: [Int64: Int] = [:]

    /// Where the next read starts: the lowest cursor of a held lane.
    var readFrom: Int64 { cursors.values.min() ?? 0 }

    /// Holds exactly `lanes` from now on: new ones start at 0, released ones are dropped. The events
    /// in `onWire` (id → lane) are on the engine: in a held lane they count as read, though a read
    /// may still return them as pending until their settlement is committed.
    mutating func hold(_ lanes: Set<Int>, onWire events: [Int64: Int] = [:]) {
        for lane in held.subtracting(lanes) { cursors[lane] = nil }
        for lane in lanes where cursors[lane] == nil { cursors[lane] = 0 }
        held = lanes
        onWire.merge(events) { old, _ in old }
        forgetPassed()
    }

    /// Whether `event` is in a held lane past that lane's cursor, and not on the engine.
    func isUnread(_ event: SpoolPendingEvent) -> Bool {
        guard let cursor = cursors[event.lane] else { return false }
        return event.id > cursor && onWire[event.id] == nil
    }

    /// Moves the cursors past events handed to the engine.
    mutating func submitted(_ events: ArraySlice<SpoolPendingEvent>) {
        for event in events where cursors[event.lane] != nil {
            cursors[event.lane] = max(cursors[event.lane]!, event.id)
        }
    }

    /// After every unread event of a read from `readFrom` went to the engine: each held lane is
    /// read up to the last id of the read's first `limit` events, or, when the read was not cut
    /// by the limit, up to its last event.
    mutating func caughtUp(with events: [SpoolPendingEvent], limit: Int) {
        let bound = events.count >= limit ? events[limit - 1].id : events.last?.id
        guard let bound else { return }
        for lane in held { cursors[lane] = max(cursors[lane]!, bound) }
        forgetPassed()
    }

    /// Reads every held lane from the beginning again (after the engine handed events back, and
    /// settled everything it was given).
    mutating func restart() {
        for lane in held { cursors[lane] = 0 }
        onWire = [:]
    }

    /// Drops the events on the wire that a cursor passed, or whose lane is no longer held.
    private mutating func forgetPassed() {
        onWire = onWire.filter { id, lane in cursors[lane].map { id > $0 } ?? false }
    }
}
