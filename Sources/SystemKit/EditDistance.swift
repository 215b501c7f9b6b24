/// How far apart two names are, for "did you mean" suggestions.
package enum EditDistance {
    /// Optimal string alignment distance between the UTF-8 bytes of `a` and `b`: insertions,
    /// deletions, substitutions and transpositions of adjacent bytes count one each (so `propreties`
    /// is one edit from `properties`). With `ignoringASCIICase`, `A`-`Z` equal `a`-`z`. With a
    /// `limit`, returns `limit + 1` early when the lengths alone rule a match within `limit` out,
    /// so a caller compares the result with `<= limit`.
    package static func between(
        _ a: some StringProtocol, _ b: some StringProtocol, limit: Int? = nil, ignoringASCIICase: Bool = false
    ) -> Int {
        let x = ignoringASCIICase ? a.utf8.map(lowercased) : Array(a.utf8)
        let y = ignoringASCIICase ? b.utf8.map(lowercased) : Array(b.utf8)
        if let limit, abs(x.count - y.count) > limit { return limit + 1 }
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        let width = y.count + 1
        var previousPrevious = [Int](repeating: 0, count: width)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: width)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d = min(d, previousPrevious[j - 2] + 1)
                }
                current[j] = d
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[y.count]
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
