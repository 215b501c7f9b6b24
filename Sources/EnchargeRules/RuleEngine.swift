import EnchargeKit
import JSONKit
import LuaKit

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

/// A rules file that cannot be used: missing, unreadable, not compiling, failing at load, or
/// lacking the entry point. The command line exits 2 with `description`.
public struct RuleLoadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How to load and run a rule.
public struct RuleOptions: Sendable {
    public var rulesPath: String
    public var limits: LuaLimits
    /// `encharge.settings`, from `--settings file.json` and `--set k=v`.
    public var settings: JSONObject
    public var logLevel: LogLevel
    /// Report assignments to undeclared globals (used by `check`).
    public var lintGlobals: Bool
    /// The rule's text, read once; when set, engines load it instead of reading `rulesPath`
    /// again, so every Lua state of a server runs the same version of the rule.
    public var source: [UInt8]?
    /// Events one record (or request) may emit; one more fails it (`--max-events-per-record`).
    public var maxEventsPerRecord = 1000
    /// Estimated JSON bytes one argument of `encharge.identify/track/event` may hold: about the
    /// largest body the Ingest API takes for one event.
    public static let maxEventBytes = 1 << 20

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

/// One loaded rule on its own Lua state: the `encharge`, `json` and `log` modules, the entry
/// points, and the per-record bookkeeping of emitted events.
///
/// Not `Sendable`: it owns a `LuaState`. Use one engine per thread.
public final class RuleEngine {
    public let options: RuleOptions
    let state: LuaState
    var onRecordRef: Int32?
    var contextRef: Int32 = 0
    /// Events emitted by the record being mapped.
    var pending: [Event] = []
    var skipReason: String?
    /// `file:line` of the record being mapped, for `log.*` and `ctx.source`.
    public internal(set) var currentSource = ""
    /// Warnings found while loading or running (`check`), compiler style.
    public internal(set) var warnings: [String] = []
    /// Counted warnings about what the rule's records and requests did (a tag with a comma, a
    /// dropped address, an ignored return value), reported once at the end of a run.
    public internal(set) var runWarnings = RuleWarnings()
    /// `rules.lua:3`, where `on_record` is defined, for the ignored-return warning.
    var onRecordLine: String?
    /// Time zones `encharge.iso8601` has read, by name.
    var zones: [String: ZoneInfo] = [:]
    var declaredGlobals: Set<String> = []
    /// For replays of kept requests: `webhook.verify` checks signatures but not timestamps.
    public var ignoreSignatureTimestamps = false
    /// Set by `webhook.verify` when a signature does not check out (the request answers 401).
    var verificationFailure: String?
    /// The last webhook request's dedup key, from `webhook.dedup(key)` or a verified Stripe event.
    public internal(set) var dedupKey: String?
    var lintActive = false
    /// The metatable that decodes `req.json` on first use (see `handleWebhook`), made once.
    var requestMetatableRef: Int32?

    /// Loads the rules file and runs its top level.
    public init(options: RuleOptions) throws(RuleLoadError) {
        self.options = options
        let directory = Self.directory(of: options.rulesPath)
        do {
            state = try LuaState(limits: options.limits, moduleDirectory: directory)
        } catch {
            throw RuleLoadError("cannot start Lua: \(error)")
        }
        state.installJSONModule()
        installEnchargeModule()
        installLogModule()
        installWebhookModules()
        installStrictModules()
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
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Whether the rules define `on_record(record, ctx)`.
    public var hasOnRecord: Bool { onRecordRef != nil }

    /// Whether the rules define a global function `name`.
    public func definesFunction(_ name: String) -> Bool {
        defer { state.pop() }
        return state.getGlobal(name) == .function
    }

    /// Whether the rules define a global table `name`.
    public func definesTable(_ name: String) -> Bool {
        defer { state.pop() }
        return state.getGlobal(name) == .table
    }

    /// Names of global functions the rule defines, for did-you-mean on a missing entry point.
    public func globalFunctionNames() -> [String] {
        declaredGlobals.sorted()
    }

    /// The counted warnings so far, as `warning:` lines; a run prints them once at its end.
    public func warningLines() -> [String] { runWarnings.lines() }

    /// Returns the counted warnings and starts counting afresh (for a long-running server that
    /// reports now and then).
    public func takeRunWarnings() -> RuleWarnings {
        defer { runWarnings = RuleWarnings() }
        return runWarnings
    }

    /// Bytes the rule's Lua state holds, and its peak.
    public var memoryInUse: Int { state.memoryInUse }

    // MARK: - Mapping

    /// Maps one JSON record (its raw bytes): decodes it straight into Lua and calls `on_record`.
    public func map(json bytes: UnsafeRawBufferPointer, source: String) -> RecordOutcome {
        guard let onRecordRef else { return .failed(message: "\(options.rulesPath): no on_record function", traceback: nil) }
        if let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }), first != UInt8(ascii: "{") {
            // Valid JSON that is not an object is still not a record; say what it is.
            if let value = try? JSONValue(parsing: bytes) {
                return .failed(message: "\(source): record is \(value.kindDescription), expected a JSON object", traceback: nil)
            }
        }
        state.top = 0
        state.pushReference(onRecordRef)
        do {
            try state.pushJSON(parsing: bytes)
        } catch {
            state.top = 0
            return .failed(message: "\(source): \(error.description); fix the input line", traceback: nil)
        }
        return callOnRecord(source: source)
    }

    /// Maps one record given as a JSON value (CSV rows, replayed records).
    public func map(value: JSONValue, source: String) -> RecordOutcome {
        guard let onRecordRef else { return .failed(message: "\(options.rulesPath): no on_record function", traceback: nil) }
        guard case .object = value else {
            return .failed(message: "\(source): record is \(value.kindDescription), expected a JSON object", traceback: nil)
        }
        state.top = 0
        state.pushReference(onRecordRef)
        state.push(json: value)
        return callOnRecord(source: source)
    }

    private func callOnRecord(source: String) -> RecordOutcome {
        guard state.type(at: -1) == .table else {
            let kind = state.type(at: -1) == .lightUserdata ? "null" : state.type(at: -1).name
            state.top = 0
            return .failed(message: "\(source): record is \(kind == "number" ? "a number" : kind == "string" ? "a string" : kind), expected a JSON object", traceback: nil)
        }
        state.pushReference(contextRef)
        state.push(source)
        state.rawSetField("source", in: -2)
        currentSource = source
        pending.removeAll(keepingCapacity: true)
        skipReason = nil
        do {
            try state.call(arguments: 2, results: 1)
        } catch {
            state.top = 0
            pending.removeAll(keepingCapacity: true)
            return .failed(message: error.message, traceback: error.traceback)
        }
        if !state.isNoneOrNil(-1) {
            // `return { ... }`, the Segment/RudderStack habit: nothing reads it.
            runWarnings.count(.ignoredReturn, ruleLine: onRecordLine, source: source)
        }
        state.top = 0
        if let skipReason { return .skipped(skipReason) }
        return .mapped(pending)
    }
}
