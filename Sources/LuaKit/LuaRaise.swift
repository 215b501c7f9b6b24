/// Thrown by a Swift function called from Lua to raise a Lua error at the caller's line.
public struct LuaRaise: Error, Sendable {
    /// The Lua error message, without position (the trampoline adds it when `addPosition`).
    public let message: String
    /// When true the trampoline prefixes the calling Lua line (`rules.lua:14: `).
    public let addPosition: Bool

    /// Raises `message` in Lua; `addPosition: false` for a message that already names its position.
    public init(_ message: String, addPosition: Bool = true) {
        self.message = message
        self.addPosition = addPosition
    }
}
