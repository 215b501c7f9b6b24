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

/// Thrown by a Swift function called from Lua to raise a Lua error at the caller's line.
public struct LuaRaise: Error, Sendable {
    public let message: String
    /// When true the trampoline prefixes the calling Lua line (`rules.lua:14: `).
    public let addPosition: Bool

    public init(_ message: String, addPosition: Bool = true) {
        self.message = message
        self.addPosition = addPosition
    }
}

/// Why a Lua value cannot become JSON; `path` names where (`trial.startDate`, `tags[2]`).
public struct LuaConversionError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }

    /// The same error one level up: `parent` is a key (`trial`) or an index (`[2]`).
    func under(_ parent: String) -> LuaConversionError {
        if parent.isEmpty { return self }
        if path.isEmpty { return LuaConversionError(path: parent, reason: reason) }
        return LuaConversionError(path: path.hasPrefix("[") ? parent + path : parent + "." + path, reason: reason)
    }
}
