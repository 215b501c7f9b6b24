/// Where and why JSON text could not be read.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Zero-based byte offset in the text given to the parser.
    public let offset: Int
    public let reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
