/// An error from Lua code or from loading it, readable by a person:
/// `rules.lua:14: track: user needs email or userId`.
public struct LuaError: Error, CustomStringConvertible, Sendable {
    /// What failed, so a caller can tell a broken rule from a rule that hit a limit.
    public enum Kind: Sendable, Equatable {
        /// A file could not be read.
        case io
        /// The chunk does not compile.
        case syntax
        /// A runtime error raised by Lua code or a Swift function it called.
        case runtime
        /// The memory cap of the state was reached.
        case memory
        /// The instruction budget of the call was spent.
        case instructions
        /// The wall-clock deadline of the call passed.
        case deadline
    }

    /// What failed: loading, compiling, running, or one of the state's limits.
    public let kind: Kind
    /// The message, with the `file:line:` prefix Lua gives it.
    public let message: String
    /// `stack traceback:` text, when the error came from running code.
    public let traceback: String?

    /// An error of `kind`; `message` should already name `file:line:` when there is one.
    public init(kind: Kind, message: String, traceback: String? = nil) {
        self.kind = kind
        self.message = message
        self.traceback = traceback
    }

    /// The message alone (`rules.lua:14: ...`), without the traceback.
    public var description: String { message }
}
