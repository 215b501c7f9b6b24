/// A failure to write or read the dead-letter file.
public struct DeadLetterError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// 1-based line for read errors, nil for file errors.
    public var line: Int?
    public var message: String

    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}
