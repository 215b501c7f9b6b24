/// "Did you mean" for misspelt keys. Only runs after a check has already failed.
extension EventValidator {
    /// The candidate closest to `key`, if it is close enough to be a plausible typo: at most one
    /// edit for short candidates and about one edit per three characters for longer ones, ignoring
    /// ASCII case (so `sourceIP` suggests `sourceIp`). Ties go to the earlier candidate.
    static func closestKey(to key: String, among candidates: [String]) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != key {
            let allowed = max(1, candidate.utf8.count / 3)
            let distance = editDistance(key, candidate, limit: allowed)
            if distance <= allowed, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions, so
    /// `propreties` is one edit from `properties`) over ASCII-lower-cased UTF-8 bytes. Returns
    /// `limit + 1` early when the lengths alone rule a match out.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let x = a.utf8.map(asciiLowercased)
        let y = b.utf8.map(asciiLowercased)
        if abs(x.count - y.count) > limit { return limit + 1 }
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

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
