/// A rules file that cannot be used: missing, unreadable, not compiling, failing at load, or
/// lacking the entry point. The command line exits 2 with `description`.
public struct RuleLoadError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do, naming the rules file (and line, when there is one).
    public let description: String
    package init(_ description: String) { self.description = description }
}
