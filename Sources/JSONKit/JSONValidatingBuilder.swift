/// Checks JSON text without building anything (for a server that only needs to know the body is
/// valid before handing the bytes on).
public struct JSONValidatingBuilder: JSONBuilder {
    /// A builder that keeps nothing.
    public init() {}
    @inlinable public mutating func beginObject() throws {}
    @inlinable public mutating func key(_ utf8: UnsafeRawBufferPointer) throws {}
    @inlinable public mutating func endMember() throws {}
    @inlinable public mutating func endObject() throws {}
    @inlinable public mutating func beginArray() throws {}
    @inlinable public mutating func endElement() throws {}
    @inlinable public mutating func endArray() throws {}
    @inlinable public mutating func null() throws {}
    @inlinable public mutating func bool(_ value: Bool) throws {}
    @inlinable public mutating func integer(_ value: Int64) throws {}
    @inlinable public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {}
    @inlinable public mutating func double(_ value: Double) throws {}
    @inlinable public mutating func string(_ utf8: UnsafeRawBufferPointer) throws {}
}
