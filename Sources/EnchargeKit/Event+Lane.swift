extension Event {
    /// The lane of a per-person ordering key among `laneCount` lanes: FNV-1a of its UTF-8 bytes, so
    /// the spread depends neither on the process's hash seed nor on the machine. The delivery engine
    /// schedules by it, and the spool stores it with each event; one person is always one lane.
    package static func lane(ofIdentityKey key: String, laneCount: Int) -> Int {
        precondition(laneCount > 0)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(laneCount))
    }
}
