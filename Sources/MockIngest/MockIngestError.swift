/// Why the mock Ingest API could not start or go on.
public struct MockIngestError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A setting is out of range.
        case invalidConfiguration
        /// The record file could not be opened or written.
        case recordFile
        /// The server stopped before it was listening (for example, the port is taken).
        case notListening
    }

    /// What went wrong.
    public let kind: Kind
    /// One sentence for a person (never the write key).
    public let message: String

    /// An error of `kind` saying `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message, prefixed with `mock-ingest: `.
    public var description: String { "mock-ingest: \(message)" }
}
