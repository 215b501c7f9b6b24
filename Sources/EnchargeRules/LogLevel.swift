/// How much `log.*` prints.
package enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug, info, warn, error

    package init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
        self = level
    }

    package static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}
