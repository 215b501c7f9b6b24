import JSONKit
import LuaKit
import SystemKit

/// How to load and run a rule.
public struct RuleOptions: Sendable {
    /// The rules file; with `source` set, only the name messages and `require` use (its directory).
    public var rulesPath: String
    /// Memory, instruction and time budgets of each call into the rule.
    public var limits: LuaLimits
    /// `encharge.settings`, from `--settings file.json` and `--set k=v`.
    public var settings: JSONObject
    /// The lowest `log.*` level written.
    public var logLevel: LogLevel
    /// Report assignments to undeclared globals (used by `check`) in `RuleEngine.warnings`.
    public var lintGlobals: Bool
    /// The rule's text, read once; when set, engines load it instead of reading `rulesPath`
    /// again, so every Lua state of a server runs the same version of the rule.
    public var source: [UInt8]?
    /// Events one record (or request) may emit; one more fails it (`--max-events-per-record`).
    public var maxEventsPerRecord = 1000
    /// A fixed clock, in epoch seconds (a test fixture's `"now"`): when set, the rule sees this
    /// instant wherever it reads the current time (`os.time()`, `os.date(format)`, the timestamp
    /// tolerance of `webhook.verify`), so its output does not depend on when it runs.
    public var fixedNow: Int64?
    /// Engines made with these options start with a `RuleTrace` (`--trace`): each call records
    /// what it did, and the rule's `log.*` lines go to the trace instead of `logWriter`.
    package var trace = false
    /// Where the rule's `log.*` lines and the engine's warnings about what a call decoded (a
    /// repeated JSON key) go: standard error unless a job or a test hands its own.
    package var logWriter: any OutputWriter = FileDescriptorWriter.standardError
    /// Estimated JSON bytes one argument of `encharge.identify/track/event` may hold: about the
    /// largest body the Ingest API takes for one event.
    package static let maxEventBytes = 1 << 20

    /// Options for the rule at `rulesPath`; `source`, `maxEventsPerRecord` and `logHandler` are
    /// set afterwards when needed.
    public init(
        rulesPath: String, limits: LuaLimits = LuaLimits(), settings: JSONObject = JSONObject(),
        logLevel: LogLevel = .info, lintGlobals: Bool = false
    ) {
        self.rulesPath = rulesPath
        self.limits = limits
        self.settings = settings
        self.logLevel = logLevel
        self.lintGlobals = lintGlobals
    }
}
