/// Receives what `JSONParser` reads, in document order. Strings and keys arrive as unescaped,
/// validated UTF-8 bytes that are only valid during the call.
///
/// One parser serves two builders: `JSONValueBuilder` (Swift values) and LuaKit's builder, which
/// pushes Lua values straight onto a Lua stack without an intermediate tree.
public protocol JSONBuilder {
    mutating func beginObject() throws
    mutating func key(_ utf8: UnsafeRawBufferPointer) throws
    /// After the value of an object member.
    mutating func endMember() throws
    mutating func endObject() throws
    mutating func beginArray() throws
    /// After each array element.
    mutating func endElement() throws
    mutating func endArray() throws
    mutating func null() throws
    mutating func bool(_ value: Bool) throws
    mutating func integer(_ value: Int64) throws
    /// An integer outside the 64-bit range, as its ASCII digits (with a leading `-` when
    /// negative). A builder keeps the digits or refuses the value; it never rounds them.
    mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws
    mutating func double(_ value: Double) throws
    mutating func string(_ utf8: UnsafeRawBufferPointer) throws
}

extension JSONBuilder {
    /// Refuses the value, for builders that have no way to hold it exactly.
    public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {
        let text = String(decoding: digits, as: UTF8.self)
        throw JSONParseError(offset: 0, reason: "integer \(text) does not fit in 64 bits; quote it as a string")
    }
}
