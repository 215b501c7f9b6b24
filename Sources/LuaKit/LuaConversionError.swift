/// Why a Lua value cannot become JSON; `path` names where (`trial.startDate`, `tags[2]`).
public struct LuaConversionError: Error, CustomStringConvertible, Sendable {
    /// Where in the value the problem is, in `JSONPath` notation (`trial.startDate`, `tags[2]`);
    /// empty for the value itself.
    public let path: String
    /// What is wrong there, e.g. `string is not valid UTF-8`.
    public let reason: String

    /// An error at `path` (empty for the value itself) for `reason`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`, or the reason alone for the value itself; raised to Lua as this text.
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }

    /// The same error one level up: `parent` is a key (`trial`) or an index (`[2]`).
    func under(_ parent: String) -> LuaConversionError {
        if parent.isEmpty { return self }
        if path.isEmpty { return LuaConversionError(path: parent, reason: reason) }
        return LuaConversionError(path: path.hasPrefix("[") ? parent + path : parent + "." + path, reason: reason)
    }
}
