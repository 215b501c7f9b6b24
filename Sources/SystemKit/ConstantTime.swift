/// Comparisons of secrets (signatures, bearer tokens, write keys) whose running time does not tell
/// an attacker where a guess first goes wrong.
package enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, in time that depends on their lengths only, never on
    /// where they first differ. Lengths that differ give `false` after the same full walk.
    package static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let countA = a.count
        let countB = b.count
        var difference: UInt8 = countA == countB ? 0 : 1
        var iteratorA = a.makeIterator()
        var iteratorB = b.makeIterator()
        for _ in 0..<max(countA, countB) {
            // Running past the shorter one depends on the lengths, which are not secret.
            difference |= (iteratorA.next() ?? 0) ^ (iteratorB.next() ?? 0)
        }
        return difference == 0
    }
}
