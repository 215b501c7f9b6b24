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

    /// Opens an object frame; its members collect there until `endObject()`.
    @inlinable public mutating func beginObject() throws { frames.append(.object([], key: "")) }
    /// Copies the key into a `String` and holds it until the member's value ends (`endMember()`).
    @inlinable public mutating func key(_ utf8: UnsafeRawBufferPointer) throws {
        guard case .object(let members, _) = frames.removeLast() else { return }
        frames.append(.object(members, key: String(decoding: utf8, as: UTF8.self)))
    }
    /// Adds the held key and the value just built to the open object; a repeated key is
    /// kept here and resolved by `JSONObject` (the last value wins).
    @inlinable public mutating func endMember() throws {
        guard case .object(var members, let key) = frames.removeLast() else { return }
        members.append((key, value))
        frames.append(.object(members, key: ""))
    }
    /// Closes the innermost object frame into a `JSONValue.object`, members sorted by key.
    @inlinable public mutating func endObject() throws {
        guard case .object(let members, _) = frames.removeLast() else { return }
        value = .object(JSONObject(members))
    }
    /// Opens an array frame; its elements collect there until `endArray()`.
    @inlinable public mutating func beginArray() throws { frames.append(.array([])) }
    /// Appends the value just built to the open array.
    @inlinable public mutating func endElement() throws {
        guard case .array(var elements) = frames.removeLast() else { return }
        elements.append(value)
        frames.append(.array(elements))
    }
    /// Closes the innermost array frame into a `JSONValue.array`, elements in document order.
    @inlinable public mutating func endArray() throws {
        guard case .array(let elements) = frames.removeLast() else { return }
        value = .array(elements)
    }
    /// Builds `JSONValue.null`.
    @inlinable public mutating func null() throws { value = .null }
    /// Builds `JSONValue.bool`.
    @inlinable public mutating func bool(_ v: Bool) throws { value = .bool(v) }
    /// Builds `JSONValue.integer`.
    @inlinable public mutating func integer(_ v: Int64) throws { value = .integer(v) }
    /// Keeps an integer beyond 64 bits exactly, as `JSONValue.bigInteger` with its digits (never
    /// rounded to a `Double`).
    @inlinable public mutating func bigInteger(_ digits: UnsafeRawBufferPointer) throws {
        value = .bigInteger(String(decoding: digits, as: UTF8.self))
    }
    /// Builds `JSONValue.double`.
    @inlinable public mutating func double(_ v: Double) throws { value = .double(v) }
    /// Copies the bytes into a `JSONValue.string`.
    @inlinable public mutating func string(_ utf8: UnsafeRawBufferPointer) throws {
        value = .string(String(decoding: utf8, as: UTF8.self))
    }
}
