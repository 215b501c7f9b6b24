/// A JSON value that keeps what JSON text says: integers stay integers (64-bit), floats stay
/// floats, and objects keep their members sorted by key so every encoding is deterministic.
public enum JSONValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// JSON `true` or `false`.
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// An integer outside the 64-bit range, kept as the decimal digits the text held (with a
    /// leading `-` when negative) so it is written back exactly instead of rounded to a float.
    case bigInteger(String)
    /// A number written with a fraction or an exponent; always finite (JSON has no NaN or
    /// infinity).
    case double(Double)
    /// A string, unescaped.
    case string(String)
    /// An array, elements in document order.
    case array([JSONValue])
    /// An object, members sorted by key (a repeated key keeps its last value).
    case object(JSONObject)

    /// The member `key` of an object, or nil for any other value or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The string, or nil for any other kind of value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object, or nil for any other kind of value.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// A short name of the value's kind, for error messages ("a string", "an object").
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .bigInteger: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// `"text"` as a JSON string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// `7` as a JSON integer.
    public init(integerLiteral value: Int64) { self = .integer(value) }
    /// `1.5` as a JSON number.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `true` as a JSON boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `[a, b]` as a JSON array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// `["k": v]` as a JSON object (a later duplicate key wins).
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    /// `nil` as JSON `null`.
    public init(nilLiteral: ()) { self = .null }
}
