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
/// the generic metadata behind them, and a `String` comparison per key sort. Here one C call per
/// table (`encl_members`) reads its members in output order, keys sorted by `memcmp`, scalars read
/// in place and strings as the pointer and length Lua holds (stable while the table holds them),
/// and each value is written as soon as its table is read. A struct, used in place (`inout`), so
/// that its buffers need no runtime exclusivity checks, which a class's stored properties get.
package struct LuaJSONEncoder {
    /// The JSON text written since the last `reset()`.
    package var writer = JSONWriter(capacity: 1024)
    let state: LuaState
    let L: OpaquePointer
    /// The members of every table being encoded, innermost last, in `entries[..<entryCount]`. The
    /// array only grows (`encl_members` writes into its room).
    private var entries: [encl_member]
    private var entryCount = 0
    /// The tables being encoded, outermost first, to find cycles.
    private var visiting: [UnsafeRawPointer] = []
    private var budget = LuaConversionBudget(memoryCap: 0, maxBytes: nil)
    private var instructionsAtReset: Int64 = 0
    /// The state's memory cap, read at `reset()` for the budgets of the values that follow.
    private var memoryCap = 0
    private let maxDepth: Int
    /// The key of the member `encodeObject` hands its filter, and whether it is plain ASCII with
    /// nothing to escape (`encl_member.key_plain`), so that writing it scans it no more.
    private var filteredKey = UnsafeRawBufferPointer(start: nil, count: 0)
    private var filteredKeyIsPlain = false

    /// An encoder for values of `state`, nested at most `maxDepth` tables deep (as `toJSON`'s).
    package init(state: LuaState, maxDepth: Int = 128) {
        self.state = state
        self.L = state.L
        self.maxDepth = maxDepth
        entries = Array(repeating: encl_member(), count: 64)
        visiting.reserveCapacity(16)
    }

    /// Empties the text and notes the instruction count, so that `abandon()` can give back what
    /// the encoding charged.
    package mutating func reset() {
        writer.bytes.removeAll(keepingCapacity: true)
        entryCount = 0
        // Empty unless the last encoding was refused.
        if !visiting.isEmpty { visiting.removeAll(keepingCapacity: true) }
        instructionsAtReset = state.limitsPointer.pointee.instructions
        memoryCap = state.limits.memoryBytes
    }

    /// Undoes the instruction charges since `reset()`: call it after a refusal, before converting
    /// again with `toJSON`, so the value is charged once.
    package func abandon() {
        state.limitsPointer.pointee.instructions = instructionsAtReset
    }

    /// Starts the budget of one value, as `toJSON(at:maxBytes:)` does for each call (after
    /// `reset()`, which reads the state's memory cap).
    package mutating func beginValue(maxBytes: Int?) {
        budget = LuaConversionBudget(memoryCap: memoryCap, maxBytes: maxBytes)
    }

    /// The value at stack `index`, read for the methods below (valid while the slot holds it).
    package func value(at index: Int32) -> LuaJSONMemberValue {
        var raw = encl_member()
        encl_member_at(L, index, &raw)
        return LuaJSONMemberValue(raw: raw)
    }

    /// Appends the value at `index` as JSON.
    package mutating func encode(at index: Int32) throws(LuaJSONEncoderRefusal) {
        let base = lua_gettop(L)
        do { try encodeValue(value(at: lua_absindex(L, index)), depth: 0) } catch {
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
            let start = entryCount
            guard try !collect(table: index, depth: 0) else { throw LuaJSONEncoderRefusal() }
            writer.bytes.append(UInt8(ascii: "{"))
            for i in start..<entryCount {
                let entry = entries[i]
                filteredKey = UnsafeRawBufferPointer(start: entry.key, count: entry.key_length)
                filteredKeyIsPlain = entry.key_plain != 0
                try filter.encodeMember(
                    key: UnsafeRawBufferPointer(start: entry.key, count: entry.key_length),
                    value: LuaJSONMemberValue(raw: entry), encoder: &self)
            }
            writer.bytes.append(UInt8(ascii: "}"))
            entryCount = start
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
        writer.writeMemberKey(
            utf8: key, first: writer.bytes.last == UInt8(ascii: "{"), needsNoEscaping: isPlainFilteredKey(key))
    }

    /// Whether `key` is the filtered member's key (the same bytes) and plain.
    private func isPlainFilteredKey(_ key: UnsafeRawBufferPointer) -> Bool {
        filteredKeyIsPlain && key.baseAddress == filteredKey.baseAddress && key.count == filteredKey.count
    }

    /// Writes the member as `toJSON` would: `"key":value`.
    package mutating func writeMember(
        key: UnsafeRawBufferPointer, value: LuaJSONMemberValue
    ) throws(LuaJSONEncoderRefusal) {
        try writeMember(
            key: key, keyIsPlain: isPlainFilteredKey(key), value: value.raw,
            first: writer.bytes.last == UInt8(ascii: "{"), depth: 1)
    }

    /// Charges one value (the part of `toJSON`'s budget every value costs): a filter that reads a
    /// member value itself calls this once for it.
    package mutating func chargeValue() throws(LuaJSONEncoderRefusal) {
        try charge(LuaConversionBudget.valueBytes)
    }

    /// The bytes of a string value, charged by length; refuses a value that is not a string or
    /// not valid UTF-8.
    package mutating func string(_ value: LuaJSONMemberValue) throws(LuaJSONEncoderRefusal) -> UnsafeRawBufferPointer {
        guard value.raw.type == LUA_TSTRING else { throw LuaJSONEncoderRefusal() }
        let bytes = value.stringBytes
        try charge(bytes.count)
        guard UTF8Validation.isValid(bytes) else { throw LuaJSONEncoderRefusal() }
        return bytes
    }

    /// The digits of a big integer (a userdata `json.decode` makes for an integer past 64 bits),
    /// else nil.
    package func bigIntegerDigits(_ value: LuaJSONMemberValue) -> String? {
        value.slot == 0 ? nil : state.bigIntegerDigits(at: value.slot)
    }

    /// Calls `body` with each string of the list `value`, in order, charged as `toJSON` charges
    /// them; an empty table counts as an empty list. Refuses anything else, and a list holding
    /// anything but strings.
    package mutating func forEachString(
        inList value: LuaJSONMemberValue, _ body: (UnsafeRawBufferPointer) throws(LuaJSONEncoderRefusal) -> Void
    ) throws(LuaJSONEncoderRefusal) {
        guard value.raw.type == LUA_TTABLE else { throw LuaJSONEncoderRefusal() }
        let base = lua_gettop(L)
        try chargeValue()
        let start = entryCount
        let isList = try collect(table: value.slot, depth: 1)
        guard isList || entryCount == start else { throw LuaJSONEncoderRefusal() }
        for i in start..<entryCount {
            try chargeValue()
            try body(try string(LuaJSONMemberValue(raw: entries[i])))
        }
        entryCount = start
        visiting.removeLast()
        lua_settop(L, base)
    }

    // MARK: - The pass

    private mutating func encodeValue(_ value: LuaJSONMemberValue, depth: Int) throws(LuaJSONEncoderRefusal) {
        try charge(LuaConversionBudget.valueBytes)
        let raw = value.raw
        switch raw.type {
        case LUA_TNIL, LUA_TNONE:
            writer.writeRaw("null")
        case LUA_TBOOLEAN:
            if raw.value.integer != 0 { writer.writeRaw("true") } else { writer.writeRaw("false") }
        case LUA_TNUMBER:
            if raw.is_integer != 0 {
                writer.writeInteger(raw.value.integer)
            } else {
                let d = raw.value.number
                guard d.isFinite else { throw LuaJSONEncoderRefusal() }
                writer.writeDouble(d)
            }
        case LUA_TSTRING:
            let bytes = value.stringBytes
            try charge(bytes.count)
            guard writer.writeStringIfValidUTF8(bytes) else { throw LuaJSONEncoderRefusal() }
        case LUA_TLIGHTUSERDATA:
            guard encl_isjsonnullpointer(raw.value.pointer) != 0 else { throw LuaJSONEncoderRefusal() }
            writer.writeRaw("null")
        case LUA_TTABLE:
            try encodeTable(at: raw.slot, depth: depth)
        case LUA_TUSERDATA:
            guard let digits = state.bigIntegerBytes(at: raw.slot) else { throw LuaJSONEncoderRefusal() }
            writer.bytes.append(contentsOf: digits)
        default:
            throw LuaJSONEncoderRefusal()
        }
    }

    private mutating func encodeTable(at index: Int32, depth: Int) throws(LuaJSONEncoderRefusal) {
        let base = lua_gettop(L)
        let start = entryCount
        let isList = try collect(table: index, depth: depth)
        let end = entryCount
        if start == end {
            if isList { writer.writeRaw("[]") } else { writer.writeRaw("{}") }
        } else if isList {
            writer.bytes.append(UInt8(ascii: "["))
            for i in start..<end {
                if i != start { writer.bytes.append(UInt8(ascii: ",")) }
                try encodeValue(LuaJSONMemberValue(raw: entries[i]), depth: depth + 1)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        } else {
            writer.bytes.append(UInt8(ascii: "{"))
            for i in start..<end {
                let entry = entries[i]
                try writeMember(
                    key: UnsafeRawBufferPointer(start: entry.key, count: entry.key_length),
                    keyIsPlain: entry.key_plain != 0, value: entry, first: i == start, depth: depth + 1)
            }
            writer.bytes.append(UInt8(ascii: "}"))
        }
        entryCount = start
        visiting.removeLast()
        lua_settop(L, base)
    }

    /// Writes the member `"key":value` of the object being written (the key checked and charged
    /// by `collect`; `keyIsPlain` when `encl_members` found nothing in it to escape), the value
    /// `depth` tables deep. A string value is charged as `encodeValue` charges it and, when short
    /// plain ASCII, goes out with its key in one append.
    @inline(__always)
    private mutating func writeMember(
        key: UnsafeRawBufferPointer, keyIsPlain: Bool, value: encl_member, first: Bool, depth: Int
    ) throws(LuaJSONEncoderRefusal) {
        if value.type == LUA_TSTRING {
            let bytes = UnsafeRawBufferPointer(start: value.value.string, count: value.string_length)
            try charge(LuaConversionBudget.valueBytes)
            try charge(bytes.count)
            if writer.writeMemberIfPlain(key: key, string: bytes, first: first, keyNeedsNoEscaping: keyIsPlain) {
                return
            }
            writer.writeMemberKey(utf8: key, first: first, needsNoEscaping: keyIsPlain)
            guard writer.writeStringIfValidUTF8(bytes) else { throw LuaJSONEncoderRefusal() }
            return
        }
        writer.writeMemberKey(utf8: key, first: first, needsNoEscaping: keyIsPlain)
        if value.type == ENCL_TREMEMBEREDNULL {
            writer.writeRaw("null")
        } else {
            try encodeValue(LuaJSONMemberValue(raw: value), depth: depth)
        }
    }

    /// Reads the table at `index` (absolute) as `toJSON` does (`encl_members`): its members go to
    /// `entries[entryCount...]` in output order, each table or userdata value in a stack slot of
    /// its own, the table to `visiting`; checks and charges the keys; answers whether it is a
    /// list. The caller encodes the members, then drops the entries, the visit and the slots.
    private mutating func collect(table index: Int32, depth: Int) throws(LuaJSONEncoderRefusal) -> Bool {
        guard depth < maxDepth, let pointer = lua_topointer(L, index), !visiting.contains(pointer) else {
            throw LuaJSONEncoderRefusal()
        }
        visiting.append(pointer)
        let start = entryCount
        let L = self.L
        var isList: Int32 = 0
        var count: Int32
        while true {
            let room = Int32(clamping: entries.count - start)
            count = entries.withUnsafeMutableBufferPointer { buffer in
                encl_members(L, index, buffer.baseAddress! + start, room, &isList)
            }
            guard count == ENCL_MEMBERS_NO_ROOM else { break }
            entries.append(contentsOf: repeatElement(encl_member(), count: entries.count))
        }
        guard count >= 0 else { throw LuaJSONEncoderRefusal() }
        entryCount = start + Int(count)
        if isList == 0 {
            for i in start..<entryCount where entries[i].type != ENCL_TREMEMBEREDNULL {
                let key = UnsafeRawBufferPointer(start: entries[i].key, count: entries[i].key_length)
                guard entries[i].key_plain != 0 || UTF8Validation.isValid(key) else { throw LuaJSONEncoderRefusal() }
                try charge(key.count + LuaConversionBudget.valueBytes)
            }
        }
        return isList != 0
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
