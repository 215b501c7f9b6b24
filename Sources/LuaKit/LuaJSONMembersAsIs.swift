/// The member filter that writes every member as it is: `encodeObject(at:filter:)` with it encodes
/// an object exactly as `encode(at:)` would, and refuses a list.
package struct LuaJSONMembersAsIs: LuaJSONMemberFilter {
    /// The filter; it keeps nothing.
    package init() {}

    /// Writes the member unchanged.
    package mutating func encodeMember(
        key: UnsafeRawBufferPointer, value: LuaJSONMemberValue, encoder: inout LuaJSONEncoder
    ) throws(LuaJSONEncoderRefusal) {
        try encoder.writeMember(key: key, value: value)
    }
}
