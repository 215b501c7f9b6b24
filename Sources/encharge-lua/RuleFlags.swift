import ArgumentParser
import EnchargeCommands
import EnchargeRules
import JSONKit
import LuaKit
import RecordSources

/// Flags every command that loads a rule shares: budgets, settings, log level.
struct RuleFlags: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("A value for encharge.settings (repeatable).", valueName: "key=value"))
    var settingPairs: [String] = []

    @Option(help: ArgumentHelp("A JSON file whose object becomes encharge.settings (--set wins).", valueName: "file"))
    var settings: String?

    @Option(help: ArgumentHelp("Memory cap of the rule's Lua state, in MiB.", valueName: "mib"))
    var memoryLimit = 64

    @Option(help: ArgumentHelp("Lua instructions one call of a rule may run.", valueName: "n"))
    var instructionLimit: Int64 = 50_000_000

    @Option(help: ArgumentHelp("Seconds one call of a rule may take.", valueName: "seconds"))
    var timeLimit = 2.0

    @Option(help: ArgumentHelp("Events one record or request may emit; more fail it.", valueName: "n"))
    var maxEventsPerRecord = 1000

    @Option(
        help: ArgumentHelp(
            "Lowest log.* level printed: debug, info, warn or error (default info; warn for diff, which runs two rules).",
            valueName: "level"))
    var logLevel: String?

    func validate() throws {
        // 2^27 MiB is the 128 TiB of a 64-bit process's user address space; more cannot be meant.
        try FlagChecks.integer(memoryLimit, "--memory-limit", 1...(1 << 27), unit: " MiB")
        guard instructionLimit >= 1000 else {
            throw ValidationError("--instruction-limit must be at least 1000, got \(instructionLimit)")
        }
        try FlagChecks.seconds(timeLimit, "--time-limit", maximum: 3600)
        guard maxEventsPerRecord >= 1 else { throw ValidationError("--max-events-per-record must be at least 1") }
        if let logLevel, LogLevel(name: logLevel) == nil {
            throw ValidationError("--log-level must be debug, info, warn or error")
        }
        for pair in settingPairs where !pair.contains("=") {
            throw ValidationError("--set takes key=value, got '\(pair)'")
        }
    }

    /// The rule options, reading the settings file; a bad file is a configuration error (exit 2).
    /// `log.*` lines below `--log-level`, else below `defaultLogLevel`, are not printed.
    func options(
        rulesPath: String, lintGlobals: Bool = false, defaultLogLevel: LogLevel = .info
    ) throws(RuleLoadError) -> RuleOptions {
        var values = JSONObject()
        if let settings {
            values = try SettingsFile.load(path: settings)
        }
        for pair in settingPairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[String(parts[0])] = .string(parts.count > 1 ? String(parts[1]) : "")
        }
        var options = RuleOptions(
            rulesPath: rulesPath,
            limits: LuaLimits(memoryBytes: memoryLimit << 20, instructions: instructionLimit, seconds: timeLimit),
            settings: values, logLevel: logLevel.flatMap(LogLevel.init(name:)) ?? defaultLogLevel,
            lintGlobals: lintGlobals)
        options.maxEventsPerRecord = maxEventsPerRecord
        return options
    }
}
