import ArgumentParser
import EnchargeCommands
import EnchargeRules
import MockIngest
import SystemKit

/// Where `mock-ingest` listens and what it checks and keeps.
struct MockIngestServerFlags: ParsableArguments {
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port = 8089

    @Option(
        help: ArgumentHelp(
            "Require this value in X-Encharge-Token (401 otherwise); without it any token is accepted.",
            valueName: "key"))
    var writeKey: String?

    @Option(help: ArgumentHelp("Read the value --write-key would take from this file.", valueName: "path"))
    var writeKeyFile: String?

    @Flag(help: "Also apply encharge-lua's own event validation, which is stricter than the documented API.")
    var strict = false

    @Option(
        help: ArgumentHelp(
            "Append each accepted request body, byte for byte, to this file (one line each).", valueName: "file"))
    var record: String?

    @Flag(help: "Log one line per request on stderr: method, path, status and body bytes (never the token).")
    var verbose = false

    /// The mock's configuration from these flags and `faults`; reads `--write-key-file` (`warn`
    /// receives the warning about a file others can read).
    func configuration(
        faults: MockIngestFaultFlags, warn: (String) -> Void
    ) throws(RuleLoadError) -> MockIngestConfiguration {
        var configuration = MockIngestConfiguration(
            host: host, port: port, writeKey: writeKey, strict: strict, verbose: verbose, recordPath: record,
            failRate: faults.failRate, dropRate: faults.dropRate, rateLimit: faults.rateLimit,
            latency: .milliseconds(faults.latencyMs), seed: faults.seed)
        if let writeKeyFile {
            configuration.writeKey = try SecretFile.read(writeKeyFile, flag: "--write-key-file", warn: warn)
        }
        return configuration
    }
}
