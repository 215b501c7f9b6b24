/// Keys that appeared more than once in one JSON object, for the warning that decoding could not
/// be lossless (the last value is used). Counts objects, not occurrences; keys keep the order in
/// which they were first seen.
public struct JSONDuplicateKeys: Sendable {
    /// Each repeated key and the number of objects that repeated it.
    public private(set) var counts: [(key: String, objects: Int)] = []
    private var positions: [String: Int] = [:]
    /// Index into `counts` of the first key not yet handed out by `takeNew()`.
    private var reported = 0

    public init() {}

    /// True when a key was repeated for the first time since the last `takeNew()`.
    public var hasNew: Bool { reported < counts.count }

    /// Notes one object that holds `key` more than once.
    public mutating func record(_ key: String) {
        if let i = positions[key] {
            counts[i].objects += 1
        } else {
            positions[key] = counts.count
            counts.append((key: key, objects: 1))
        }
    }

    /// The keys repeated for the first time since the last call.
    public mutating func takeNew() -> [String] {
        defer { reported = counts.count }
        return counts[reported...].map(\.key)
    }
}
