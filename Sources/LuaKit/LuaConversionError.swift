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
