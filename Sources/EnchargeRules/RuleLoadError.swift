/// A rules file that cannot be used: missing, unreadable, not compiling, failing at load, or
/// lacking the entry point. The command line exits 2 with `description`.
public struct RuleLoadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
