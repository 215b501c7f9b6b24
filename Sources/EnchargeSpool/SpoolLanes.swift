import EnchargeKit

/// The delivery lanes of a spool. Every event is stored with the lane of its identity key; a lane
/// is delivered by one process at a time, in spool order, so per-person order holds across
/// processes. The count is part of every spool's data (stored lanes), so it never changes.
package enum SpoolLanes {
    /// The number of lanes of every spool.
    package static let count = 64

    /// Every lane.
    package static var all: Set<Int> { Set(0..<count) }

    /// The lane of a per-person ordering key (`Event.identityKey`): the delivery engine's FNV-1a hash.
    package static func lane(ofIdentityKey key: String) -> Int {
        Event.lane(ofIdentityKey: key, laneCount: count)
    }
}
