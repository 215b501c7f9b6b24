import JSONKit

/// How many inputs `diff` read and where each landed; the four kinds add up to `inputs`.
struct DiffJobCounts {
    var inputs = 0
    var unchanged = 0
    var changed = 0
    var newlyFailing = 0
    var newlyPassing = 0

    mutating func count(_ kind: DiffJobComparison.Kind) {
        inputs += 1
        switch kind {
        case .unchanged: unchanged += 1
        case .changed: changed += 1
        case .newlyFailing: newlyFailing += 1
        case .newlyPassing: newlyPassing += 1
        }
    }

    /// `1,204 inputs: 1,180 unchanged, 20 changed, 4 newly failing`, with `, 2 newly passing`
    /// only when some are.
    var line: String {
        var line = "\(Self.grouped(inputs)) input\(inputs == 1 ? "" : "s"): \(Self.grouped(unchanged)) unchanged, "
        line += "\(Self.grouped(changed)) changed, \(Self.grouped(newlyFailing)) newly failing"
        if newlyPassing > 0 { line += ", \(Self.grouped(newlyPassing)) newly passing" }
        return line
    }

    /// The last line of `diff --json`: every count, always.
    var jsonValue: JSONValue {
        [
            "inputs": .integer(Int64(inputs)), "unchanged": .integer(Int64(unchanged)),
            "changed": .integer(Int64(changed)), "newlyFailing": .integer(Int64(newlyFailing)),
            "newlyPassing": .integer(Int64(newlyPassing)),
        ]
    }

    /// `1204` as `1,204`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var text = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return (n < 0 ? "-" : "") + text
    }
}
