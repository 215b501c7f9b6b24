import CLua

/// The metatables that remember the null members of decoded objects (see `LuaState.pushJSON`),
/// shared by every object whose null members have the same keys: records of one stream have a
/// handful of null patterns, and a metatable of its own per object cost two tables per record.
///
/// A pattern is the list of its key strings' addresses. Lua interns short strings, so equal keys
/// are one string, and the shared metatable's nulls table holds each of them, so no address can
/// be reused by another string while its entry lives. Long keys (not interned) simply never match.
/// The metatables carry `__metatable`, so a rule cannot reach or change one (as the shared marker
/// metatables of arrays and empty objects). At most `capacity` patterns are kept; past that, an
/// object gets a metatable of its own, protected the same way.
struct LuaNullsMetatables {
    static let capacity = 32
    private var entries: [Int: (keys: [UnsafeRawPointer?], ref: Int32)] = [:]

    /// The hash of the null keys at stack slots `first ..< first + count`.
    static func hash(_ L: OpaquePointer, first: Int32, count: Int32) -> Int {
        var hash = Int(count)
        for i in 0..<count { hash = hash &* 31 &+ Int(bitPattern: lua_topointer(L, first + i)) }
        return hash
    }

    /// The registry reference of the shared metatable for the null keys at stack slots
    /// `first ..< first + count`, whose hash is `hash`; nil when there is none yet.
    func reference(hash: Int, _ L: OpaquePointer, first: Int32, count: Int32) -> Int32? {
        guard let entry = entries[hash], entry.keys.count == Int(count) else { return nil }
        for i in 0..<count where entry.keys[Int(i)] != lua_topointer(L, first + i) { return nil }
        return entry.ref
    }

    /// Whether a new pattern may still be kept.
    var hasRoom: Bool { entries.count < LuaNullsMetatables.capacity }

    /// Keeps `ref` (a registry reference the cache now owns) for the null keys `keys`.
    mutating func keep(hash: Int, keys: [UnsafeRawPointer?], ref: Int32) {
        entries[hash] = (keys, ref)
    }
}
