/// How much `log.*` prints: a line at this level or above is written.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    /// `log.debug`: everything.
    case debug
    /// `log.info` and `print` (the default).
    case info
    /// `log.warn`.
    case warn
    /// `log.error`: only errors.
    case error

    /// The level named `debug`, `info`, `warn` or `error` (any case); nil for another name.
    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
        self = level
    }

    /// Whether `a` is less severe than `b`.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}
