/// Checks JSON text without building anything (for a server that only needs to know the body is
/// valid before handing the bytes on).
public struct JSONValidatingBuilder: JSONBuilder {
    /// A builder that keeps nothing.
    public init() {}
    /// Accepts an object's start; nothing is kept.
    @inlinable public mutating func beginObject() throws {}
    /// Accepts a member key (already validated UTF-8 by the parser); nothing is kept.
    @inlinable public mutating func key(_ utf8: UnsafeRawBufferPointer) throws {}
    /// Accepts the end of an object member; nothing is kept.
    @inlinable public mutating func endMember() throws {}
    /// Accepts an object's end; nothing is kept.
    @inlinable public mutating func endObject() throws {}
    /// Accepts an array's start; nothing is kept.
    @inlinable public mutating func beginArray() throws {}
    /// Accepts the end of an array element; nothing is kept.
    @inlinable public mutating func endElement() throws {}
    /// Accepts an array's end; nothing is kept.
    @inlinable public mutating func endArray() throws {}
    /// Accepts `null`; nothing is kept.
    @inlinable public mutating func null() throws {}
    /// Accepts `true` or `false`; nothing is kept.
    @inlinable public mutating func bool(_ value: Bool) throws {}
    /// Accepts a 64-bit integer; nothing is kept.
    @inlinable public mutating func integer(_ value: Int64) throws {}
    /// Accepts an integer beyond 64 bits (validation needs no exact value), unlike the refusing default of `JSONBuilder`.
    @inlinable public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {}
    /// Accepts a finite floating-point number; nothing is kept.
    @inlinable public mutating func double(_ value: Double) throws {}
    /// Accepts a string (already validated UTF-8 by the parser); nothing is kept.
    @inlinable public mutating func string(_ utf8: UnsafeRawBufferPointer) throws {}
}
