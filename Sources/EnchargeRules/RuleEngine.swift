import EnchargeKit
import JSONKit
import LuaKit

/// One loaded rule on its own Lua state: the `encharge`, `json` and `log` modules, the entry
/// points, and the per-record bookkeeping of emitted events.
///
/// Load it with `init(options:)`, then call `map(value:source:)` or `map(json:source:)` once per
/// record, or `handleWebhook(_:)` once per request; each call returns the validated events (or why
/// there are none). Calls run the rule on the calling thread, bounded by `RuleOptions.limits`.
///
/// Not `Sendable`: it owns a `LuaState`. Use one engine per thread.
public final class RuleEngine {
    /// The options the engine was loaded with.
    public let options: RuleOptions
    let state: LuaState
    // The per-record and per-event state below is touched a few times for every record. The engine
    // is used by one thread at a time and none of these is ever accessed while an access to it is
    // under way (no Lua code runs inside one), so the runtime's exclusivity checks are left out.
    @exclusivity(unchecked) var onRecordRef: Int32?
    @exclusivity(unchecked) var contextRef: Int32 = 0
    /// Events emitted by the record being mapped.
    @exclusivity(unchecked) var pending: [Event] = []
    /// Writes the events of `encharge.identify` and `encharge.track` in one pass; its buffers
    /// serve every event of the engine.
    @exclusivity(unchecked) var eventEncoder: LuaJSONEncoder
    /// Scratch for joining a user's tags, kept across events.
    @exclusivity(unchecked) var tagScratch: [UInt8] = []
    /// The reason of `encharge.skip` in the last record or request, nil when it did not skip (a
    /// webhook's outcome carries none; `test` reads it here).
    @exclusivity(unchecked) package internal(set) var skipReason: String?
    /// `file:line` of the record being mapped, for `log.*` and `ctx.source`.
    @exclusivity(unchecked) package internal(set) var currentSource = ""
    /// Warnings found while loading or running (`check`), compiler style.
    public internal(set) var warnings: [String] = []
    /// Counted warnings about what the rule's records and requests did (a tag with a comma, a
    /// dropped address, an ignored return value), reported once at the end of a run.
    package internal(set) var runWarnings = RuleWarnings()
    /// `rules.lua:3`, where `on_record` is defined, for the ignored-return warning.
    var onRecordLine: String?
    /// Time zones `encharge.iso8601` has read, by name.
    var zones: [String: ZoneInfo] = [:]
    var declaredGlobals: Set<String> = []
    /// For replays of kept requests: `webhook.verify` checks signatures but not timestamps.
    package var ignoreSignatureTimestamps = false
    /// Set by `webhook.verify` when a signature does not check out (the request answers 401).
    var verificationFailure: String?
    /// The last webhook request's dedup key, from `webhook.dedup(key)` or a verified Stripe event.
    package internal(set) var dedupKey: String?
    var lintActive = false
    /// The metatable that decodes `req.json` on first use (see `handleWebhook`), made once.
    var requestMetatableRef: Int32?
    /// While set, each call records what it did here (`--trace`), and `log.*` lines go here
    /// instead of to `options.logWriter`; take the entries after each call with `take()`.
    @exclusivity(unchecked) package var trace: RuleTrace?

    /// Loads the rules file (or `options.source`) and runs its top level.
    ///
    /// Throws `RuleLoadError` when the file cannot be read, does not compile or raises while
    /// loading; its `description` names the file and line and says what to do.
    public init(options: RuleOptions) throws(RuleLoadError) {
        self.options = options
        let directory = Self.directory(of: options.rulesPath)
        do {
            state = try LuaState(limits: options.limits, moduleDirectory: directory)
            eventEncoder = LuaJSONEncoder(state: state)
        } catch {
            throw RuleLoadError("cannot start Lua: \(error)")
        }
        state.installJSONModule()
        installEnchargeModule()
        installLogModule()
        installWebhookModule()
        installCryptoModule()
        installStrictModules()
        if let fixedNow = options.fixedNow { try installFixedClock(fixedNow) }
        if options.lintGlobals { installGlobalsLint() }
        do {
            if let source = options.source {
                try state.load(source, chunkName: "@" + options.rulesPath)
            } else {
                try state.load(file: options.rulesPath)
            }
        } catch {
            switch error.kind {
            case .io: throw RuleLoadError("\(error.message); check the path of the rules file")
            default: throw RuleLoadError("\(error.message) (the rules file does not compile)")
            }
        }
        currentSource = options.rulesPath
        do {
            try state.call(arguments: 0, results: 0)
        } catch {
            throw RuleLoadError("\(error.message) (while loading the rules file)")
        }
        lintActive = options.lintGlobals
        if state.getGlobal("on_record") == .function {
            onRecordLine = state.definitionLine(ofFunctionAt: -1).map { "\(options.rulesPath):\($0)" }
            onRecordRef = state.makeReference()
        } else {
            state.pop()
        }
        state.newTable(fieldCount: 1)
        contextRef = state.makeReference()
        // From the first call on: what the top level logs while loading prints as usual.
        if options.trace { trace = RuleTrace() }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Whether the rules define `on_record(record, ctx)`.
    public var hasOnRecord: Bool { onRecordRef != nil }

    /// `rules.lua defines no on_record(record, ctx) function`: how a command that maps records
    /// says a rule without `hasOnRecord` cannot run (each adds what it would have called it for).
    package static func noOnRecordMessage(rulesPath: String) -> String {
        "\(rulesPath) defines no on_record(record, ctx) function"
    }

    /// Whether the rules define a global function `name`.
    package func definesFunction(_ name: String) -> Bool {
        defer { state.pop() }
        return state.getGlobal(name) == .function
    }

    /// Whether the rules define a global table `name`.
    package func definesTable(_ name: String) -> Bool {
        defer { state.pop() }
        return state.getGlobal(name) == .table
    }

    /// Names of global functions the rule defines, for did-you-mean on a missing entry point.
    package func globalFunctionNames() -> [String] {
        declaredGlobals.sorted()
    }

    /// The counted warnings so far (a tag with a comma, a dropped address, an ignored return value),
    /// as `warning:` lines; a run prints them once at its end.
    public func warningLines() -> [String] { runWarnings.lines() }

    /// Returns the counted warnings and starts counting afresh (for a long-running server that
    /// reports now and then).
    package func takeRunWarnings() -> RuleWarnings {
        defer { runWarnings = RuleWarnings() }
        return runWarnings
    }

    /// Bytes the rule's Lua state holds, and its peak.
    package var memoryInUse: Int { state.memoryInUse }
}
