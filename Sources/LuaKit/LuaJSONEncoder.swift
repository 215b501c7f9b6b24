import CLua
import Glibc
import JSONKit

/// Encodes Lua values straight into JSON text in one pass: no `JSONValue` tree, no `String` per
/// key or value, and its buffers live as long as the encoder, so a run reuses them for every event.
///
/// It writes what `LuaState.toJSON` followed by `JSONWriter` writes, byte for byte (sorted keys,
/// integers exactly, floats shortest round-trip, remembered nulls, list markers), and charges the
/// same byte, instruction and deadline budget. Where `toJSON` would throw, it refuses instead
/// (`LuaJSONEncoderRefusal`) without tripping the state: the caller calls `abandon()` and converts
/// again with `toJSON`, which names the problem. Valid values, the hot path, never format a message.
///
/// Why not `toJSON` + `JSONWriter`: the tree costs an enum box, a `String` and an array per value,
/// the generic metadata behind them, and a `String` comparison per key sort; here a key is the
/// pointer and length `lua_tolstring` gives (stable while its table holds it), sorted by `memcmp`,
/// and each value is written as soon as its members are sorted. A struct, used in place (`inout`),
/// so that its buffers need no runtime exclusivity checks, which a class's stored properties get.
package struct LuaJSONEncoder {
    /// The JSON text written since the last `reset()`.
    package var writer = JSONWriter(capacity: 1024)
    let state: LuaState
    let L: OpaquePointer
    /// One per member of every table being encoded, innermost last: its key (or list index) and
    /// the stack slot its value was left in.
    private var entries: [Entry] = []
    /// The tables being encoded, outermost first, to find cycles.
    private var visiting: [UnsafeRawPointer] = []
    private var budget = LuaConversionBudget(memoryCap: 0, maxBytes: nil)
    private var instructionsAtReset: Int64 = 0
    private let maxDepth: Int

    private struct Entry {
        var key: UnsafeRawPointer?
        var keyLength: Int
        var index: lua_Integer
        var slot: Int32
    }

    /// An encoder for values of `state`, nested at most `maxDepth` tables deep (as `toJSON`'s).
    package init(state: LuaState, maxDepth: Int = 128) {
        self.state = state
        self.L = state.L
        self.maxDepth = maxDepth
        entries.reserveCapacity(64)
        visiting.reserveCapacity(16)
    }

    /// Empties the text and notes the instruction count, so that `abandon()` can give back what
    /// the encoding charged.
    package mutating func reset() {
        writer.bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        visiting.removeAll(keepingCapacity: true)
        instructionsAtReset = state.limitsPointer.pointee.instructions
    }

    /// Undoes the instruction charges since `reset()`: call it after a refusal, before converting
    /// again with `toJSON`, so the value is charged once.
    package func abandon() {
        state.limitsPointer.pointee.instructions = instructionsAtReset
    }

    /// Starts the budget of one value, as `toJSON(at:maxBytes:)` does for each call.
    package mutating func beginValue(maxBytes: Int?) {
        budget = LuaConversionBudget(memoryCap: state.limits.memoryBytes, maxBytes: maxBytes)
    }

    /// Appends the value at `index` as JSON.
    package mutating func encode(at index: Int32) throws(LuaJSONEncoderRefusal) {
        let base = lua_gettop(L)
        do { try encodeValue(at: lua_absindex(L, index), depth: 0) } catch {
            lua_settop(L, base)
            throw error
        }
    }

    /// Appends the table at `index` as a JSON object whose members `filter` writes; refuses
    /// anything that is not an object (a list, or not a table).
    package mutating func encodeObject<Filter: LuaJSONMemberFilter>(
        at index: Int32, filter: inout Filter
    ) throws(LuaJSONEncoderRefusal) {
        let index = lua_absindex(L, index)
        let base = lua_gettop(L)
        do throws(LuaJSONEncoderRefusal) {
            guard lua_type(L, index) == LUA_TTABLE else { throw LuaJSONEncoderRefusal() }
            try charge(LuaConversionBudget.valueBytes)
            let start = entries.count
            guard try !collect(table: index, depth: 0) else { throw LuaJSONEncoderRefusal() }
            writer.bytes.append(UInt8(ascii: "{"))
            for i in start..<entries.count {
                let entry = entries[i]
                try filter.encodeMember(
                    key: UnsafeRawBufferPointer(start: entry.key, count: entry.keyLength), value: entry.slot,
                    encoder: &self)
            }
            writer.bytes.append(UInt8(ascii: "}"))
            entries.removeLast(entries.count - start)
            visiting.removeLast()
        } catch {
            lua_settop(L, base)
            throw error
        }
        lua_settop(L, base)
    }

    /// Writes `"key":` as the next member of the object `encodeObject` is writing; the filter then
    /// writes its value.
    package mutating func writeMemberKey(_ key: UnsafeRawBufferPointer) {
        writer.writeMemberKey(utf8: key, first: writer.bytes.last == UInt8(ascii: "{"))
    }

    /// Writes the member as `toJSON` would: `"key":value` (a slot of 0 is a remembered null).
    package mutating func writeMember(key: UnsafeRawBufferPointer, value slot: Int32) throws(LuaJSONEncoderRefusal) {
        writeMemberKey(key)
        if slot == 0 { writer.writeRaw("null") } else { try encodeValue(at: slot, depth: 1) }
    }

    /// Whether the member value at `slot` is JSON null: a remembered null (slot 0) or `json.null`.
    package func isNull(_ slot: Int32) -> Bool {
        slot == 0 || encl_isjsonnull(L, slot) != 0
    }

    /// Charges one value (the part of `toJSON`'s budget every value costs): a filter that reads a
    /// member value itself calls this once for it.
    package mutating func chargeValue() throws(LuaJSONEncoderRefusal) {
        try charge(LuaConversionBudget.valueBytes)
    }

    /// The bytes of the string at `slot` (valid while it is on the stack), charged by length;
    /// refuses a value that is not a string or not valid UTF-8.
    package mutating func string(at slot: Int32) throws(LuaJSONEncoderRefusal) -> UnsafeRawBufferPointer {
        guard slot != 0, lua_type(L, slot) == LUA_TSTRING else { throw LuaJSONEncoderRefusal() }
        var length = 0
        let p = encl_tolstring(L, slot, &length)
        try charge(length)
        let bytes = UnsafeRawBufferPointer(start: p, count: length)
        guard UTF8Validation.isValid(bytes) else { throw LuaJSONEncoderRefusal() }
        return bytes
    }

    /// Calls `body` with each string of the list at `slot`, in order, charged as `toJSON` charges
    /// them; an empty table counts as an empty list. Refuses anything else, and a list holding
    /// anything but strings.
    package mutating func forEachString(
        inListAt slot: Int32, _ body: (UnsafeRawBufferPointer) throws(LuaJSONEncoderRefusal) -> Void
    ) throws(LuaJSONEncoderRefusal) {
        guard slot != 0, lua_type(L, slot) == LUA_TTABLE else { throw LuaJSONEncoderRefusal() }
        let base = lua_gettop(L)
        try chargeValue()
        let start = entries.count
        let isList = try collect(table: slot, depth: 1)
        guard isList || entries.count == start else { throw LuaJSONEncoderRefusal() }
        for i in start..<entries.count {
            try chargeValue()
            try body(try string(at: entries[i].slot))
        }
        entries.removeLast(entries.count - start)
        visiting.removeLast()
        lua_settop(L, base)
    }

    // MARK: - The pass

    private mutating func encodeValue(at index: Int32, depth: Int) throws(LuaJSONEncoderRefusal) {
        try charge(LuaConversionBudget.valueBytes)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            writer.writeRaw("null")
        case LUA_TBOOLEAN:
            if lua_toboolean(L, index) != 0 { writer.writeRaw("true") } else { writer.writeRaw("false") }
        case LUA_TNUMBER:
            if lua_isinteger(L, index) != 0 {
                var isInteger: Int32 = 0
                writer.writeInteger(encl_tointeger(L, index, &isInteger))
            } else {
                let d = encl_tonumber(L, index)
                guard d.isFinite else { throw LuaJSONEncoderRefusal() }
                writer.writeDouble(d)
            }
        case LUA_TSTRING:
            writer.writeString(utf8: try string(at: index))
        case LUA_TLIGHTUSERDATA:
            guard encl_isjsonnull(L, index) != 0 else { throw LuaJSONEncoderRefusal() }
            writer.writeRaw("null")
        case LUA_TTABLE:
            try encodeTable(at: index, depth: depth)
        case LUA_TUSERDATA:
            guard let digits = state.bigIntegerBytes(at: index) else { throw LuaJSONEncoderRefusal() }
            writer.bytes.append(contentsOf: digits)
        default:
            throw LuaJSONEncoderRefusal()
        }
    }

    private mutating func encodeTable(at index: Int32, depth: Int) throws(LuaJSONEncoderRefusal) {
        let base = lua_gettop(L)
        let start = entries.count
        let isList = try collect(table: index, depth: depth)
        let end = entries.count
        if start == end {
            if isList { writer.writeRaw("[]") } else { writer.writeRaw("{}") }
        } else if isList {
            writer.bytes.append(UInt8(ascii: "["))
            for i in start..<end {
                if i != start { writer.bytes.append(UInt8(ascii: ",")) }
                try encodeValue(at: entries[i].slot, depth: depth + 1)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        } else {
            writer.bytes.append(UInt8(ascii: "{"))
            for i in start..<end {
                let entry = entries[i]
                writer.writeMemberKey(
                    utf8: UnsafeRawBufferPointer(start: entry.key, count: entry.keyLength), first: i == start)
                if entry.slot == 0 {
                    writer.writeRaw("null")
                } else {
                    try encodeValue(at: entry.slot, depth: depth + 1)
                }
            }
            writer.bytes.append(UInt8(ascii: "}"))
        }
        entries.removeLast(end - start)
        visiting.removeLast()
        lua_settop(L, base)
    }

    /// Reads the table at `index` (absolute) as `toJSON` does: leaves each member's value in a
    /// stack slot of its own, appends an entry per member to `entries` in output order (keys by
    /// their bytes, or list indexes), adds the table to `visiting`, and answers whether it is a
    /// list. The caller encodes the members, then drops the entries, the visit and the slots.
    private mutating func collect(table index: Int32, depth: Int) throws(LuaJSONEncoderRefusal) -> Bool {
        guard depth < maxDepth, let pointer = lua_topointer(L, index), !visiting.contains(pointer),
            lua_checkstack(L, 8) != 0
        else { throw LuaJSONEncoderRefusal() }
        visiting.append(pointer)

        // What the metatable says: a list marker and remembered nulls.
        var listMarked = false
        var nullsSlot: Int32 = 0
        if lua_getmetatable(L, index) != 0 {
            let metatable = lua_gettop(L)
            if state.rawGetField(LuaState.jsonMarkerField, in: metatable) == .string {
                var length = 0
                let p = encl_tolstring(L, -1, &length)
                listMarked = length == 5 && memcmp(p!, "array", 5) == 0
            }
            encl_pop(L, 1)
            if state.rawGetField(LuaState.jsonNullsField, in: metatable) == .table {
                nullsSlot = lua_gettop(L)
            } else {
                encl_pop(L, 1)
            }
        }

        let start = entries.count
        var sawKey = false
        var sawIndex = false
        var inOrder = true
        var maxIndex: lua_Integer = 0
        lua_pushnil(L)
        // Member n's value ends in slot `firstSlot + n`: each lua_next turns the key on top into
        // key and value, and the swap below leaves the value under the next key.
        let firstSlot = lua_gettop(L)
        var room: Int32 = 0
        while lua_next(L, index) != 0 {
            // Key at -2, value at -1. Swapped, the value keeps its slot and the key goes on top
            // for the next lua_next.
            let slot = firstSlot + Int32(truncatingIfNeeded: entries.count - start)
            switch lua_type(L, -2) {
            case LUA_TSTRING:
                var length = 0
                let p = encl_tolstring(L, -2, &length)
                guard !sawIndex, UTF8Validation.isValid(UnsafeRawBufferPointer(start: p, count: length)) else {
                    throw LuaJSONEncoderRefusal()
                }
                try charge(length + LuaConversionBudget.valueBytes)
                sawKey = true
                entries.append(Entry(key: UnsafeRawPointer(p), keyLength: length, index: 0, slot: slot))
            case LUA_TNUMBER where lua_isinteger(L, -2) != 0:
                var isInteger: Int32 = 0
                let k = encl_tointeger(L, -2, &isInteger)
                guard !sawKey, k >= 1 else { throw LuaJSONEncoderRefusal() }
                sawIndex = true
                if k < maxIndex { inOrder = false } else { maxIndex = k }
                entries.append(Entry(key: nil, keyLength: 0, index: k, slot: slot))
            default:
                throw LuaJSONEncoderRefusal()
            }
            lua_rotate(L, -2, 1)
            // One stack slot more per member: asked for sixteen at a time.
            if room == 0 {
                guard lua_checkstack(L, 20) != 0 else { throw LuaJSONEncoderRefusal() }
                room = 16
            }
            room &-= 1
        }

        if sawIndex || (listMarked && !sawKey) {
            let count = entries.count - start
            if !inOrder {
                sortEntries(from: start) { $0.index < $1.index }
                maxIndex = entries[entries.count - 1].index
            }
            guard maxIndex == lua_Integer(count) else { throw LuaJSONEncoderRefusal() }
            return true
        }
        if nullsSlot != 0 {
            // Each remembered null the rule did not set comes back.
            lua_pushnil(L)
            while lua_next(L, nullsSlot) != 0 {
                encl_pop(L, 1)
                if lua_type(L, -1) == LUA_TSTRING {
                    lua_pushvalue(L, -1)
                    if lua_rawget(L, index) == LUA_TNIL {
                        var length = 0
                        let p = encl_tolstring(L, -2, &length)
                        entries.append(Entry(key: UnsafeRawPointer(p), keyLength: length, index: 0, slot: 0))
                    }
                    encl_pop(L, 1)
                }
            }
        }
        sortEntries(from: start) { a, b in
            let common = min(a.keyLength, b.keyLength)
            guard common > 0 else { return a.keyLength < b.keyLength }
            // Most keys differ in their first byte: no call for those.
            let a0 = a.key.unsafelyUnwrapped.load(as: UInt8.self)
            let b0 = b.key.unsafelyUnwrapped.load(as: UInt8.self)
            if a0 != b0 { return a0 < b0 }
            let order = memcmp(a.key.unsafelyUnwrapped, b.key.unsafelyUnwrapped, common)
            return order < 0 || (order == 0 && a.keyLength < b.keyLength)
        }
        return false
    }

    /// Insertion sort of `entries[start...]`: members come a handful per table, often nearly in
    /// order, where it beats the standard library's sort and its closure context.
    @inline(__always)
    private mutating func sortEntries(from start: Int, by precedes: (Entry, Entry) -> Bool) {
        let end = entries.count
        guard end - start > 1 else { return }
        entries.withUnsafeMutableBufferPointer { buffer in
            for i in (start + 1)..<end {
                let entry = buffer[i]
                var j = i
                while j > start, precedes(entry, buffer[j - 1]) {
                    buffer[j] = buffer[j - 1]
                    j -= 1
                }
                buffer[j] = entry
            }
        }
    }

    /// Charges `bytes` as `toJSON` does; where `toJSON` would stop (a byte cap, the instruction
    /// budget, the deadline) this refuses instead, and `abandon()` gives the instructions back.
    @inline(__always)
    private mutating func charge(_ bytes: Int) throws(LuaJSONEncoderRefusal) {
        budget.bytesLeft &-= bytes
        budget.valuesUntilCheck &-= 1
        if budget.bytesLeft < 0 || budget.valuesUntilCheck == 0 { try checkBudget() }
    }

    private mutating func checkBudget() throws(LuaJSONEncoderRefusal) {
        guard budget.bytesLeft >= 0 else { throw LuaJSONEncoderRefusal() }
        let p = state.limitsPointer
        budget.valuesUntilCheck = LuaConversionBudget.checkInterval
        p.pointee.instructions += Int64(LuaConversionBudget.checkInterval)
        if p.pointee.instruction_limit > 0 && p.pointee.instructions > p.pointee.instruction_limit {
            throw LuaJSONEncoderRefusal()
        }
        if p.pointee.deadline_ns > 0 && encl_now_ns() > p.pointee.deadline_ns { throw LuaJSONEncoderRefusal() }
    }
}
