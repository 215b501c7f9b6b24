/// A JSON object whose members are kept sorted by the UTF-8 bytes of their keys.
public struct JSONObject: Sendable, Hashable, Sequence {
    /// The members, sorted by the UTF-8 bytes of their keys, without duplicate keys.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// The empty object `{}`.
    public init() { members = [] }

    /// Builds an object from members in any order; a later duplicate key replaces an earlier one.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        var list = pairs.map { (key: $0.0, value: $0.1) }
        list.sort { JSONObject.keyPrecedes($0.key, $1.key) }
        var deduplicated: [(key: String, value: JSONValue)] = []
        deduplicated.reserveCapacity(list.count)
        for member in list {
            if let last = deduplicated.last, JSONObject.sameKey(last.key, member.key) {
                deduplicated[deduplicated.count - 1] = member
            } else {
                deduplicated.append(member)
            }
        }
        members = deduplicated
    }

    /// Builds an object from members already sorted by key without duplicates.
    public init(sortedMembers: [(key: String, value: JSONValue)]) { members = sortedMembers }

    /// How many members the object has.
    public var count: Int { members.count }
    /// Whether the object has no member.
    public var isEmpty: Bool { members.isEmpty }
    /// The keys, in sorted order.
    public var keys: [String] { members.map(\.key) }

    /// The value of `key`, nil when absent; setting nil removes the member, setting a value adds or replaces it in key order.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = index(of: key) else { return nil }
            return members[i].value
        }
        set {
            let position = insertionPoint(of: key)
            let found = position < members.count && JSONObject.sameKey(members[position].key, key)
            switch (newValue, found) {
            case (let value?, true): members[position].value = value
            case (let value?, false): members.insert((key: key, value: value), at: position)
            case (nil, true): members.remove(at: position)
            case (nil, false): break
            }
        }
    }

    /// The members in key order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    private func index(of key: String) -> Int? {
        let position = insertionPoint(of: key)
        return position < members.count && JSONObject.sameKey(members[position].key, key) ? position : nil
    }

    private func insertionPoint(of key: String) -> Int {
        var low = 0
        var high = members.count
        while low < high {
            let mid = (low + high) / 2
            if JSONObject.keyPrecedes(members[mid].key, key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Byte-wise UTF-8 order, the order JSON output uses (and the order `sort` in C gives).
    @inlinable
    public static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Keys are equal when their bytes are: JSON does not normalize Unicode, so "é" and
    /// "e\u{301}" are two keys (Swift's `==` on String would merge them).
    @inlinable
    public static func sameKey(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// Same keys (byte for byte) with equal values.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { sameKey($0.key, $1.key) && $0.value == $1.value }
    }

    /// Hashes the keys and values, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for member in members {
            hasher.combine(member.key.utf8.count)
            for byte in member.key.utf8 { hasher.combine(byte) }
            hasher.combine(member.value)
        }
    }
}
