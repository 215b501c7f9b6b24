/// A rules file that cannot be used: missing, unreadable, not compiling, failing at load, or
/// lacking the entry point. The command line exits 2 with `description`.
package struct RuleLoadError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}
