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
