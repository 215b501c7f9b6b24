import CLua

/// A value as `LuaJSONEncoder` reads it: a table member's (from `encl_members`, which reads a
/// whole table in one call) or a stack slot's. Scalars are held here, so writing or checking one
/// makes no further call into Lua; a string's bytes belong to the table or slot it was read from
/// and stay valid while that holds it. A table or full userdata sits in a stack slot until the
/// encoder is done with the table that holds it.
package struct LuaJSONMemberValue {
    let raw: encl_member

    /// The kind of the value (`.nil` for a remembered null, see `isNull`).
    package var type: LuaType {
        raw.type == ENCL_TREMEMBEREDNULL ? .nil : LuaType(rawValue: raw.type) ?? .none
    }

    /// Whether the value is JSON null: a null the table remembers from decoded JSON (it does not
    /// set the key), or `json.null`.
    package var isNull: Bool {
        raw.type == ENCL_TREMEMBEREDNULL
            || (raw.type == LUA_TLIGHTUSERDATA && encl_isjsonnullpointer(raw.value.pointer) != 0)
    }

    /// Whether this is a member the table does not set but remembers as null.
    var isRememberedNull: Bool { raw.type == ENCL_TREMEMBEREDNULL }

    /// The value of an integer number (not a float), else nil.
    package var integer: Int64? {
        raw.type == LUA_TNUMBER && raw.is_integer != 0 ? raw.value.integer : nil
    }

    /// The value of a float number (not an integer), else nil.
    package var float: Double? {
        raw.type == LUA_TNUMBER && raw.is_integer == 0 ? raw.value.number : nil
    }

    /// The stack slot of a table or full userdata value, else 0.
    var slot: Int32 { raw.slot }

    /// The string's bytes, unchecked; the value must be a string.
    var stringBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.value.string, count: raw.string_length)
    }
}
