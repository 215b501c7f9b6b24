/// Per-call and per-state limits. Defaults are far above what a real rule needs.
public struct LuaLimits: Sendable {
    /// Bytes the state may hold; allocations past it fail while Lua code runs.
    public var memoryBytes: Int = 64 << 20
    /// Lua VM instructions per call (counted in steps of 1,000).
    public var instructions: Int64 = 50_000_000
    /// Wall-clock seconds per call.
    public var seconds: Double = 2

    /// Limits with these budgets; the defaults are the fields' defaults.
    public init(memoryBytes: Int = 64 << 20, instructions: Int64 = 50_000_000, seconds: Double = 2) {
        self.memoryBytes = memoryBytes
        self.instructions = instructions
        self.seconds = seconds
    }
}
