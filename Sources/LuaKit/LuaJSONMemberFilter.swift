/// What `LuaJSONEncoder.encodeObject(at:filter:)` asks about each member of the object it encodes,
/// in key order: the filter writes the member through the encoder (as is with
/// `writeMember(key:value:)`, or with a value of its own after `writeMemberKey(_:)`), leaves it out
/// by writing nothing, or refuses. It lets a caller apply its own rules to one level of members
/// in the same pass, while LuaKit knows nothing of them.
package protocol LuaJSONMemberFilter {
    /// Handles the member `key` and its `value` (which may be a null the table remembers from
    /// decoded JSON, see `LuaState.pushJSON(parsing:)` and `LuaJSONMemberValue.isNull`).
    mutating func encodeMember(
        key: UnsafeRawBufferPointer, value: LuaJSONMemberValue, encoder: inout LuaJSONEncoder
    ) throws(LuaJSONEncoderRefusal)
}
