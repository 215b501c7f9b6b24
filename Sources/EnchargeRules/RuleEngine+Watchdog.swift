import LuaKit

extension RuleEngine {
    /// When the rule's running call started, for a `RuleWatchdog` on another thread.
    package var callClock: LuaCallClock { state.callClock }

    /// `file:line` of the rule line whose call a watchdog gave up. Only from the watchdog thread,
    /// after `LuaCallClock.abandon` succeeded (see `LuaState.stuckCallPosition`).
    package var stuckRulePosition: String? { state.stuckCallPosition() }
}
