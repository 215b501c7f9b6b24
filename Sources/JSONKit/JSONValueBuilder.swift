/// Builds `JSONValue`s.
public struct JSONValueBuilder: JSONBuilder {
    @usableFromInline enum Frame {
        case array([JSONValue])
        case object([(String, JSONValue)], key: String)
    }
    @usableFromInline var frames: [Frame] = []
    @usableFromInline var value: JSONValue = .null

    /// A builder with nothing built yet.
    public init() {}

    /// The value built, once the parser has finished.
    public var result: JSONValue { value }

    @inlinable public mutating func beginObject() throws { frames.append(.object([], key: "")) }
    @inlinable public mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
        guard case .object(let members, _) = frames.removeLast() else { return }
        frames.append(.object(members, key: String(decoding: utf8, as: UTF8.self)))
    }
    @inlinable public mutating func endMember() throws {
        guard case .object(var members, let key) = frames.removeLast() else { return }
        members.append((key, value))
        frames.append(.object(members, key: ""))
    }
    @inlinable public mutating func endObject() throws {
        guard case .object(let members, _) = frames.removeLast() else { return }
        value = .object(JSONObject(members))
    }
    @inlinable public mutating func beginArray() throws { frames.append(.array([])) }
    @inlinable public mutating func endElement() throws {
        guard case .array(var elements) = frames.removeLast() else { return }
        elements.append(value)
        frames.append(.array(elements))
    }
    @inlinable public mutating func endArray() throws {
        guard case .array(let elements) = frames.removeLast() else { return }
        value = .array(elements)
    }
    @inlinable public mutating func null() throws { value = .null }
    @inlinable public mutating func bool(_ v: Bool) throws { value = .bool(v) }
    @inlinable public mutating func integer(_ v: Int64) throws { value = .integer(v) }
    @inlinable public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {
        value = .bigInteger(String(decoding: digits, as: UTF8.self))
    }
    @inlinable public mutating func double(_ v: Double) throws { value = .double(v) }
    @inlinable public mutating func string(_ utf8: UnsafeRawBufferPointer) throws {
        value = .string(String(decoding: utf8, as: UTF8.self))
    }
}
