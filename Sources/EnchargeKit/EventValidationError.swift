/// Why an event does not meet the Encharge Ingest contract, with the place in the event that is
/// wrong: `user.tags[2]: expected a string, got an integer`.
public struct EventValidationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where the problem is, in dots and `[i]` (`properties.trial.startDate`, `user.tags[2]`);
    /// empty when it concerns the event as a whole (a missing name, an unknown top-level key).
    public let path: String
    /// What is wrong and, where it helps, what to do about it.
    public let message: String

    /// An error at `path` (empty for the whole event).
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`, or just the message when the path is empty.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
