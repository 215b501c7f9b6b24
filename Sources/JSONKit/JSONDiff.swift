/// The differences between an expected and an actual JSON value, each at the path where it sits.
///
/// Objects are compared member by member in key order (keys are compared by their bytes, as
/// `JSONObject` keeps them), arrays element by element by index, so the list is deterministic.
/// Numbers are compared by the number they denote, not by how they are spelled: `1`, `1.0` and
/// `-0.0`/`0` are the same number to the Ingest API and are never reported, although
/// `JSONValue`'s own `==` tells `.integer(1)` from `.double(1)`. An integer beyond 64 bits equals
/// a float only when the float holds exactly that integer.
public struct JSONDiff: Sendable, Hashable {
    /// What differs at one path.
    public enum Change: Sendable, Hashable {
        /// Both sides have a value there, and they differ.
        case changed(expected: JSONValue, actual: JSONValue)
        /// Only the expected side has a value there.
        case missing(expected: JSONValue)
        /// Only the actual side has a value there.
        case unexpected(actual: JSONValue)
    }

    /// One difference: where, and what.
    public struct Difference: Sendable, Hashable {
        /// Where the values differ.
        public var path: JSONPath
        /// How they differ there.
        public var change: Change

        /// A difference of `change` at `path`.
        public init(path: JSONPath, change: Change) {
            self.path = path
            self.change = change
        }
    }

    /// The differences, objects in key order and arrays in index order; empty when the values match.
    public let differences: [Difference]

    /// Compares `expected` with `actual`; the paths of the differences start with `root`.
    public init(expected: JSONValue, actual: JSONValue, at root: JSONPath = JSONPath()) {
        var differences: [Difference] = []
        JSONDiff.compare(expected, actual, at: root, into: &differences)
        self.differences = differences
    }

    /// Whether the two values match.
    public var isEmpty: Bool { differences.isEmpty }

    /// Whether `a` and `b` match: equal structure, strings and booleans, and numbers denoting the same value.
    public static func matches(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { matches($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count
                && zip(x.members, y.members).allSatisfy {
                    JSONObject.sameKey($0.key, $1.key) && matches($0.value, $1.value)
                }
        default:
            if let same = sameNumber(a, b) { return same }
            return a == b
        }
    }

    private static func compare(
        _ expected: JSONValue, _ actual: JSONValue, at path: JSONPath, into differences: inout [Difference]
    ) {
        switch (expected, actual) {
        case (.object(let e), .object(let a)):
            var i = 0
            var j = 0
            while i < e.members.count || j < a.members.count {
                let inExpected = i < e.members.count ? e.members[i] : nil
                let inActual = j < a.members.count ? a.members[j] : nil
                if let inExpected, let inActual, JSONObject.sameKey(inExpected.key, inActual.key) {
                    compare(
                        inExpected.value, inActual.value, at: path.appending(.key(inExpected.key)), into: &differences)
                    i += 1
                    j += 1
                } else if let inExpected, inActual.map({ JSONObject.keyPrecedes(inExpected.key, $0.key) }) ?? true {
                    differences.append(
                        Difference(
                            path: path.appending(.key(inExpected.key)), change: .missing(expected: inExpected.value)))
                    i += 1
                } else if let inActual {
                    differences.append(
                        Difference(
                            path: path.appending(.key(inActual.key)), change: .unexpected(actual: inActual.value)))
                    j += 1
                }
            }
        case (.array(let e), .array(let a)):
            for index in 0..<max(e.count, a.count) {
                let elementPath = path.appending(.index(index))
                if index >= a.count {
                    differences.append(Difference(path: elementPath, change: .missing(expected: e[index])))
                } else if index >= e.count {
                    differences.append(Difference(path: elementPath, change: .unexpected(actual: a[index])))
                } else {
                    compare(e[index], a[index], at: elementPath, into: &differences)
                }
            }
        default:
            if !matches(expected, actual) {
                differences.append(Difference(path: path, change: .changed(expected: expected, actual: actual)))
            }
        }
    }
}
