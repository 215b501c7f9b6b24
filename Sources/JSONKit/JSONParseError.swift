/// Where and why JSON text could not be read.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Zero-based byte offset in the text given to the parser.
    public let offset: Int
    /// What was wrong there, e.g. `unexpected end of input inside an array`.
    public let reason: String

    /// An error at byte `offset`.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `invalid JSON at byte 12: reason`.
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
