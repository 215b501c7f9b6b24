/// An error from Lua code or from loading it, readable by a person:
/// `rules.lua:14: track: user needs email or userId`.
public struct LuaError: Error, CustomStringConvertible, Sendable {
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

    public let kind: Kind
    /// The message, with the `file:line:` prefix Lua gives it.
    public let message: String
    /// `stack traceback:` text, when the error came from running code.
    public let traceback: String?

    public init(kind: Kind, message: String, traceback: String? = nil) {
        self.kind = kind
        self.message = message
        self.traceback = traceback
    }

    public var description: String { message }
}
