/// Keys that appeared more than once in one JSON object, for the warning that decoding could not
/// be lossless (the last value is used). Counts repeats (a key three times in one object is two);
/// keys keep the order in which they were first repeated.
public struct JSONDuplicateKeys: Sendable {
    /// Each repeated key and how many times it was repeated.
    public private(set) var counts: [(key: String, repeats: Int)] = []
    private var positions: [String: Int] = [:]
    /// Index into `counts` of the first key not yet handed out by `takeNew()`.
    private var reported = 0

    /// No keys seen yet.
    public init() {}

    /// True when a key was repeated for the first time since the last `takeNew()`.
    public var hasNew: Bool { reported < counts.count }

    /// Repeats of keys past the first `maxKeys` distinct ones, which are not tracked one by one
    /// (a long-running server must not grow with whatever keys requests make up).
    public private(set) var untrackedRepeats = 0
    /// Most distinct repeated keys tracked one by one; repeats of further keys only add to
    /// `untrackedRepeats`.
    public static let maxKeys = 100
    /// Longest key, in UTF-8 bytes, recorded whole; a longer key is recorded as its first
    /// `maxKeyLength` characters followed by `…`, so repeats of it still count under one entry.
    public static let maxKeyLength = 200

    /// Notes one more occurrence of `key` in an object that already held it.
    public mutating func record(_ key: String) {
        let key = key.utf8.count > Self.maxKeyLength ? String(key.prefix(Self.maxKeyLength)) + "…" : key
        if let i = positions[key] {
            counts[i].repeats += 1
        } else if counts.count < Self.maxKeys {
            positions[key] = counts.count
            counts.append((key: key, repeats: 1))
        } else {
            untrackedRepeats += 1
        }
    }

    /// True when no key was repeated.
    public var isEmpty: Bool { counts.isEmpty && untrackedRepeats == 0 }

    /// Adds the repeats `other` noted after the ones noted here, as if this had noted them itself
    /// (keys already cut to `maxKeyLength` are not cut again); the keys new here are then handed
    /// out by `takeNew()`.
    public mutating func merge(_ other: JSONDuplicateKeys) {
        for (key, repeats) in other.counts {
            if let i = positions[key] {
                counts[i].repeats += repeats
            } else if counts.count < Self.maxKeys {
                positions[key] = counts.count
                counts.append((key: key, repeats: repeats))
            } else {
                untrackedRepeats += repeats
            }
        }
        untrackedRepeats += other.untrackedRepeats
    }

    /// The keys repeated for the first time since the last call.
    public mutating func takeNew() -> [String] {
        defer { reported = counts.count }
        return counts[reported...].map(\.key)
    }
}
