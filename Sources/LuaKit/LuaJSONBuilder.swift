import CLua
import JSONKit

/// Pushes parsed JSON straight onto a Lua stack (no intermediate tree). Containers sit at
/// absolute stack slots; null object members leave their key on the stack until the object
/// ends, when they go into the object's `__jsonnulls` metatable.
///
/// A key repeated in one object keeps its last value (as JSON parsers do) and is noted in the
/// state's `jsonDuplicateKeys` for a warning. Finding repeats costs a lookup only when a cheap
/// 64-bit fingerprint of the object's keys says the key may have been seen (the hot path).
struct LuaJSONBuilder: JSONBuilder {
    let state: LuaState
    let L: OpaquePointer
    /// When set, each new table checks the state's memory cap (see `pushJSON(parsing:)`).
    var memoryCap: UnsafeMutablePointer<encl_limits>?
    var collected = false
    /// The open containers, outermost first, in `slots[..<depth]`: memory the state keeps between
    /// decodings (`LuaState.takeJSONSlots`), so a record allocates nothing for it and the innermost
    /// container is read and updated in place, with no array uniqueness or bounds checks.
    private(set) var slots: UnsafeMutablePointer<LuaJSONSlot>
    private(set) var slotCapacity: Int
    private var depth = 0
    var lastWasNull = false
    /// Whether the latest key repeats one of its object. Only a null member reads it, and nothing
    /// is parsed between a null's key and its end, so one flag serves every level.
    var keyRepeats = false
    /// Members of the top-level object so far (see `LuaState.recordWidthHint`).
    var topLevelMembers: Int32 = 0

    /// A builder for `state`, holding its slot memory until `pushJSON` gives it back.
    init(state: LuaState) {
        self.state = state
        self.L = state.L
        (slots, slotCapacity) = state.takeJSONSlots()
    }

    /// Opens a container at stack slot `table`.
    private mutating func open(table: Int32) {
        if depth == slotCapacity {
            let grown = UnsafeMutablePointer<LuaJSONSlot>.allocate(capacity: slotCapacity * 2)
            grown.moveInitialize(from: slots, count: depth)
            slots.deallocate()
            (slots, slotCapacity) = (grown, slotCapacity * 2)
        }
        (slots + depth).initialize(to: LuaJSONSlot(table: table, count: 0, keyBits: 0))
        depth += 1
    }

    /// Allocations from Swift are never refused (a refusal would raise across Swift frames), so
    /// the cap is checked here, once per table; garbage is collected once before giving up.
    private mutating func checkMemory() throws {
        guard let cap = memoryCap, cap.pointee.used > cap.pointee.limit else { return }
        if !collected {
            collected = true
            encl_collect(L)
            if cap.pointee.used <= cap.pointee.limit { return }
        }
        cap.pointee.tripped = Int32(ENCL_TRIP_MEMORY.rawValue)
        throw JSONParseError(offset: 0, reason: LuaState.memoryLimitText(Int(cap.pointee.limit)))
    }

    mutating func beginObject() throws {
        try checkMemory()
        guard lua_checkstack(L, 4) != 0 else { throw JSONParseError(offset: 0, reason: "nested too deeply") }
        lua_createtable(L, 0, depth == 0 ? state.recordWidthHint : 4)
        open(table: lua_gettop(L))
        lastWasNull = false
    }

    mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
        _ = lua_pushlstring(L, utf8.baseAddress?.assumingMemoryBound(to: CChar.self), utf8.count)
        let slot = slots + (depth - 1)
        let first = utf8.first ?? 0, final = utf8.last ?? 0
        let bit: UInt64 =
            1 &<< ((UInt64(truncatingIfNeeded: utf8.count) &* 7 &+ UInt64(first) &* 3 &+ UInt64(final)) & 63)
        keyRepeats = slot.pointee.keyBits & bit != 0 && isRepeatedKey(in: slot.pointee)
        if keyRepeats { state.jsonDuplicateKeys.record(String(decoding: utf8, as: UTF8.self)) }
        slot.pointee.keyBits |= bit
    }

    /// Whether the key on top of the stack is already a member of the object: set in its table,
    /// or one of the null members whose keys wait on the stack above it.
    private func isRepeatedKey(in slot: LuaJSONSlot) -> Bool {
        lua_pushvalue(L, -1)
        let found = lua_rawget(L, slot.table) != LUA_TNIL
        encl_pop(L, 1)
        if found { return true }
        let keyIndex = lua_gettop(L)
        for nullKey in (slot.table + 1)..<(slot.table + 1 + slot.count) where lua_rawequal(L, nullKey, keyIndex) != 0 {
            return true
        }
        return false
    }

    mutating func endMember() throws {
        let slot = slots + (depth - 1)
        if depth == 1 { topLevelMembers &+= 1 }
        if lastWasNull {
            if keyRepeats {
                // A null after a value: the null is the last value, so the earlier one goes.
                lua_pushvalue(L, -1)
                lua_pushnil(L)
                lua_rawset(L, slot.pointee.table)
            }
            // Leave the key on the stack; remember it when the object closes.
            slot.pointee.count += 1
            lastWasNull = false
            guard lua_checkstack(L, 4) != 0 else { throw JSONParseError(offset: 0, reason: "too many null members") }
            return
        }
        lua_rawset(L, slot.pointee.table)
    }

    mutating func endObject() throws {
        depth -= 1
        let slot = slots[depth]
        lastWasNull = false
        if depth == 0 { state.recordWidthHint = min(max(topLevelMembers - slot.count, 4), 64) }
        if slot.count > 0 {
            // Stack: table, key1 ... keyN (the null members).
            let first = slot.table + 1
            let hash = LuaNullsMetatables.hash(L, first: first, count: slot.count)
            if let ref = state.nullsMetatables.reference(hash: hash, L, first: first, count: slot.count) {
                lua_settop(L, slot.table)
                state.pushReference(ref)
                lua_setmetatable(L, slot.table)
                return
            }
            let keys = state.nullsMetatables.hasRoom ? (0..<slot.count).map { lua_topointer(L, first + $0) } : nil
            lua_createtable(L, 0, 3)
            lua_pushstring(L, "object")
            lua_setfield(L, -2, LuaState.jsonMarkerField)
            lua_pushstring(L, "json.object")
            lua_setfield(L, -2, "__metatable")
            lua_createtable(L, 0, slot.count)
            for _ in 0..<slot.count {
                // nulls table on top, metatable below it, keys below that.
                lua_rotate(L, -3, -1)  // bring the topmost key up: key, mt, nulls → mt, nulls, key
                lua_pushboolean(L, 1)
                lua_rawset(L, -3)
            }
            lua_setfield(L, -2, LuaState.jsonNullsField)
            lua_setmetatable(L, slot.table)
            if let keys {
                lua_getmetatable(L, slot.table)
                state.nullsMetatables.keep(hash: hash, keys: keys, ref: state.makeReference())
            }
        } else if lua_rawlen(L, slot.table) == 0, isEmpty(slot.table) {
            state.pushReference(state.objectMetatableRef)
            lua_setmetatable(L, slot.table)
        }
    }

    private func isEmpty(_ table: Int32) -> Bool {
        lua_pushnil(L)
        if lua_next(L, table) != 0 {
            encl_pop(L, 2)
            return false
        }
        return true
    }

    mutating func beginArray() throws {
        try checkMemory()
        guard lua_checkstack(L, 4) != 0 else { throw JSONParseError(offset: 0, reason: "nested too deeply") }
        lua_createtable(L, 4, 0)
        open(table: lua_gettop(L))
        lastWasNull = false
    }

    mutating func endElement() throws {
        let slot = slots + (depth - 1)
        slot.pointee.count += 1
        if lastWasNull {
            encl_pushjsonnull(L)
            lastWasNull = false
        }
        lua_rawseti(L, slot.pointee.table, lua_Integer(slot.pointee.count))
    }

    mutating func endArray() throws {
        depth -= 1
        lastWasNull = false
        state.pushReference(state.arrayMetatableRef)
        lua_setmetatable(L, -2)
    }

    mutating func null() throws {
        if depth == 0 {
            encl_pushjsonnull(L)
        } else {
            lastWasNull = true
        }
    }

    mutating func bool(_ value: Bool) throws { lua_pushboolean(L, value ? 1 : 0) }
    mutating func integer(_ value: Int64) throws { lua_pushinteger(L, value) }
    mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws { state.pushBigInteger(digits: digits) }
    mutating func double(_ value: Double) throws { lua_pushnumber(L, value) }
    mutating func string(_ utf8: UnsafeRawBufferPointer) throws {
        _ = lua_pushlstring(L, utf8.baseAddress?.assumingMemoryBound(to: CChar.self), utf8.count)
    }
}

/// One open container of a `LuaJSONBuilder`: its stack slot, its next list index (arrays) or its
/// null count (objects), and the fingerprint of its keys so far.
struct LuaJSONSlot {
    var table: Int32
    var count: Int32
    var keyBits: UInt64
}
