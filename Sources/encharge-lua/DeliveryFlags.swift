import ArgumentParser
import EnchargeCommands
import EnchargeKit
import EnchargeRules

/// Delivery flags shared by `run`, `replay`, `serve` and `deliver`.
struct DeliveryFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Ingest API URL (default: $ENCHARGE_ENDPOINT or https://ingest.encharge.io/v1/).", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("Read the write key from this file instead of $ENCHARGE_WRITE_KEY.", valueName: "path"))
    var writeKeyFile: String?

    @Option(help: ArgumentHelp("Requests in flight at once.", valueName: "n"))
    var concurrency = 16

    @Option(help: ArgumentHelp("Seconds to wait for a connection.", valueName: "seconds"))
    var connectTimeout = 10.0

    @Option(help: ArgumentHelp("Seconds one request may take.", valueName: "seconds"))
    var requestTimeout = 30.0

    @Option(help: ArgumentHelp("Attempts per event before it is dead-lettered.", valueName: "n"))
    var maxAttempts = 8

    @Option(
        help: ArgumentHelp("First retry delay in seconds (exponential backoff with full jitter).", valueName: "seconds")
    )
    var backoffBase = 0.5

    @Option(help: ArgumentHelp("Longest retry delay in seconds.", valueName: "seconds"))
    var backoffCap = 30.0

    @Option(help: ArgumentHelp("CA bundle (PEM) for a private certificate authority.", valueName: "path"))
    var cacert: String?

    @Option(
        help: ArgumentHelp(
            "After SIGTERM or Ctrl-C, seconds requests on the wire may take to finish; the rest is dead-lettered, or stays pending when it came from a spool.",
            valueName: "seconds")
    )
    var drainTimeout = 10.0

    func validate() throws {
        try FlagChecks.integer(concurrency, "--concurrency", 1...1024)
        try FlagChecks.integer(maxAttempts, "--max-attempts", 1...1000)
        try FlagChecks.seconds(connectTimeout, "--connect-timeout")
        try FlagChecks.seconds(requestTimeout, "--request-timeout")
        try FlagChecks.seconds(backoffBase, "--backoff-base", allowingZero: true)
        try FlagChecks.seconds(backoffCap, "--backoff-cap", allowingZero: true)
        try FlagChecks.seconds(drainTimeout, "--drain-timeout", allowingZero: true)
        guard backoffCap >= backoffBase else { throw ValidationError("--backoff-cap must be at least --backoff-base") }
    }

    /// The delivery configuration, reading the write key; a missing key is a configuration
    /// error (exit 2) whose message says how to set it.
    /// `environment` is where `ENCHARGE_WRITE_KEY` and `ENCHARGE_ENDPOINT` are read; `warn` receives
    /// the warning about a write-key file others can read.
    func configuration(
        forServe: Bool = false, environment: [String: String] = CommandContext.processEnvironment(),
        warn: (String) -> Void
    ) throws(RuleLoadError) -> DeliveryConfiguration {
        var key: String
        if let writeKeyFile {
            key = try SecretFile.read(writeKeyFile, flag: "--write-key-file", warn: warn)
        } else {
            key = environment["ENCHARGE_WRITE_KEY"] ?? ""
        }
        guard !key.isEmpty else {
            throw RuleLoadError(
                forServe
                    ? "no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH"
                    : "no Encharge write key: set ENCHARGE_WRITE_KEY or pass --write-key-file PATH (or use --dry-run to print the events without sending)"
            )
        }
        return DeliveryConfiguration(
            endpoint: endpoint ?? environment["ENCHARGE_ENDPOINT"] ?? "https://ingest.encharge.io/v1/",
            writeKey: key, userAgent: DeliveryConfiguration.userAgent(version: enchargeLuaVersion),
            concurrency: concurrency, connectTimeout: connectTimeout, requestTimeout: requestTimeout,
            maxAttempts: maxAttempts, backoffBase: backoffBase, backoffCap: backoffCap, caBundlePath: cacert,
            writeKeySource: writeKeyFile.map { "--write-key-file \($0)" } ?? "ENCHARGE_WRITE_KEY")
    }
}
