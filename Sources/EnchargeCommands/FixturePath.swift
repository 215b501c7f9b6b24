import JSONKit

/// A place in a fixture file, written as a JSON path for messages: `$`, `$.webhook.headers.content-type`,
/// `$.events[2]`. A key that is not plain letters, digits, `_` and `-` is written `["key"]`.
package struct FixturePath: Sendable, Equatable, CustomStringConvertible {
    package private(set) var description = "$"

    package init() {}

    /// The path of member `key` of the object here.
    package func member(_ key: String) -> FixturePath {
        var path = self
        let plain =
            !key.isEmpty
            && key.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
        path.description += plain ? "." + key : "[" + JSONValue.string(key).encoded() + "]"
        return path
    }

    /// The path of element `index` of the array here.
    package func element(_ index: Int) -> FixturePath {
        var path = self
        path.description += "[\(index)]"
        return path
    }
}
