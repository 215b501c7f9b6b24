/// Where a value sits inside a JSON document, written the way a person reads it:
/// `properties.plan`, `tags[2]`, `user["odd key"]`.
///
/// A key is written bare (after a `.`, or first) unless it is empty or holds a `.`, `[`, `]`, `"`,
/// `\`, white space or a control character; such a key is written as a JSON string in brackets so
/// the path stays unambiguous. Indexes count from 0. The empty path (the document itself) is
/// written as the empty string.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    /// One step down into an object member or an array element.
    public enum Component: Sendable, Hashable {
        /// The object member with this key, written bare (`plan`, or `.plan` after another step)
        /// or, when it cannot be, bracketed as a JSON string (`["first name"]`).
        case key(String)
        /// The array element at this index, counting from 0, written `[2]`.
        case index(Int)
    }

    /// The steps from the document root, outermost first.
    public private(set) var components: [Component]

    /// A path of `components`, outermost first; no components is the document itself.
    public init(_ components: [Component] = []) { self.components = components }

    /// This path followed by `component`.
    public func appending(_ component: Component) -> JSONPath {
        var path = self
        path.components.append(component)
        return path
    }

    /// The path as messages show it: `events[1].properties.plan`, a key that is not bare in
    /// brackets as a JSON string (`user["first name"]`).
    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let i):
                text += "[\(i)]"
            case .key(let key) where JSONPath.isBare(key):
                text += text.isEmpty ? key : ".\(key)"
            case .key(let key):
                var writer = JSONWriter(capacity: key.utf8.count + 2)
                writer.writeString(key)
                text += "[\(String(decoding: writer.bytes, as: UTF8.self))]"
            }
        }
        return text
    }

    /// Whether `key` can be written without brackets and quotes.
    private static func isBare(_ key: String) -> Bool {
        !key.isEmpty
            && !key.utf8.contains { b in
                b <= 0x20 || b == UInt8(ascii: ".") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]")
                    || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == 0x7F
            }
    }
}
