import EnchargeKit

/// What running a rule on one record gave.
public enum RecordOutcome: Sendable {
    /// The rule ran; these validated events, in emission order (possibly none).
    case mapped([Event])
    /// The rule called `encharge.skip(reason)`; events it emitted are dropped.
    case skipped(String)
    /// The record could not be mapped: malformed input, a Lua error, an exceeded budget or an
    /// invalid event. `message` reads `rules.lua:14: track: user needs email or userId`.
    case failed(message: String, traceback: String?)
}
