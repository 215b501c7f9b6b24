/// A failure to write or read the dead-letter file.
public struct DeadLetterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The dead-letter file.
    public var path: String
    /// 1-based line for read errors, nil for file errors.
    public var line: Int?
    /// What went wrong.
    public var message: String

    /// An error about `path` (at 1-based `line`, for a read error).
    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `path:line: message`, or `path: message` without a line.
    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}
