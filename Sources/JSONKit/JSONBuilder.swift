/// Receives what `JSONParser` reads, in document order. Strings and keys arrive as unescaped,
/// validated UTF-8 bytes that are only valid during the call.
///
/// One parser serves two builders: `JSONValueBuilder` (Swift values) and LuaKit's builder, which
/// pushes Lua values straight onto a Lua stack without an intermediate tree.
public protocol JSONBuilder {
    /// An object starts (`{`). Each member follows as `key(_:)`, its value, `endMember()`; then
    /// `endObject()`. Throwing here (or in any requirement) stops the parse with that error.
    mutating func beginObject() throws
    /// The key of the next member of the open object, as unescaped, validated UTF-8 bytes that are
    /// valid only during the call (copy them to keep them). The member's value follows.
    mutating func key(_ utf8: UnsafeRawBufferPointer) throws
    /// After the value of an object member.
    mutating func endMember() throws
    /// The object opened by the matching `beginObject()` is complete (`}`); it is now the value.
    mutating func endObject() throws
    /// An array starts (`[`). Each element follows as its value, then `endElement()`; then
    /// `endArray()`.
    mutating func beginArray() throws
    /// After each array element.
    mutating func endElement() throws
    /// The array opened by the matching `beginArray()` is complete (`]`); it is now the value.
    mutating func endArray() throws
    /// The literal `null`.
    mutating func null() throws
    /// The literal `true` or `false`.
    mutating func bool(_ value: Bool) throws
    /// A number written without fraction or exponent that fits in 64 bits (`-9223372036854775808`
    /// included).
    mutating func integer(_ value: Int64) throws
    /// An integer outside the 64-bit range, as its ASCII digits (with a leading `-` when
    /// negative). A builder keeps the digits or refuses the value; it never rounds them.
    mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws
    /// A number written with a fraction or an exponent (`1.5`, `2e3`), always finite: the parser
    /// refuses one that overflows a `Double` before calling this.
    mutating func double(_ value: Double) throws
    /// A string value, as unescaped, validated UTF-8 bytes that are valid only during the call (copy
    /// them to keep them).
    mutating func string(_ utf8: UnsafeRawBufferPointer) throws
}

extension JSONBuilder {
    /// Refuses the value, for builders that have no way to hold it exactly.
    public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {
        let text = String(decoding: digits, as: UTF8.self)
        throw JSONParseError(offset: 0, reason: "integer \(text) does not fit in 64 bits; quote it as a string")
    }
}
