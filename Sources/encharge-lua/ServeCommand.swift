import ArgumentParser
import EnchargeRules
import EnchargeServer
import WebhookSignatures

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the rule on each webhook request and deliver its events durably in the background.",
        discussion: """
            Each request calls on_webhook(req), or routes["METHOD /path"] when the rule defines a \
            routes table. Its events are committed to the SQLite spool before the response is \
            sent; a background worker delivers them with the semantics of run. GET /healthz and \
            GET /metrics (Prometheus) are built in. SIGTERM/SIGINT stop gracefully within \
            --drain-timeout, leaving undelivered events pending in the spool (a second signal exits \
            at once, 130); SIGHUP reloads the rule (a broken rule is refused and the old one keeps \
            serving). One serve owns a spool at a time. While the Ingest API refuses the write key \
            (401/403), delivery pauses and /healthz answers 503.

            EXIT CODES
              0    stopped by SIGTERM or SIGINT
              1    the server failed while running
              2    usage, configuration or rule-load error, the port is in use, or the spool is owned by another serve
              130  a second SIGTERM or SIGINT stopped it at once

            EXAMPLES
              ENCHARGE_WRITE_KEY=... encharge-lua serve examples/github/rules.lua --port 8080
              encharge-lua serve rules.lua --verify stripe --secret-file whsec.txt \\
                --write-key-file key.txt --spool /var/lib/encharge/spool.sqlite
            """)

    @Argument(help: ArgumentHelp("The rules file, defining on_webhook(req) or a routes table.", valueName: "rules.lua"))
    var rules: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one (printed on start).")
    var port = 8080

    @Option(help: ArgumentHelp("The SQLite spool file (created if missing).", valueName: "path"))
    var spool = "encharge-spool.sqlite"

    @Option(help: ArgumentHelp("Largest request body, e.g. 1MiB, 256KiB or a byte count; larger answers 413.", valueName: "size"))
    var maxBody = "1MiB"

    @Option(help: ArgumentHelp("Lua states serving requests at once (default: number of cores).", valueName: "n"))
    var workers: Int?

    @Option(help: ArgumentHelp("Check this signature scheme on every request before the rule runs: stripe, github, shopify, standard or hmac.", valueName: "scheme"))
    var verify: String?

    @Option(help: ArgumentHelp("File holding the signing secret for --verify.", valueName: "path"))
    var secretFile: String?

    @Option(help: ArgumentHelp("Header carrying the signature for --verify hmac.", valueName: "name"))
    var hmacHeader = "x-signature"

    @Option(help: ArgumentHelp("Require `Authorization: Bearer <token>` with the token in this file.", valueName: "path"))
    var authTokenFile: String?

    @Option(help: ArgumentHelp("Seconds a delivery id is remembered for dedup.", valueName: "seconds"))
    var dedupWindow = 86_400.0

    @Option(help: ArgumentHelp("While the Ingest API refuses the write key (401/403), seconds between attempts.", valueName: "seconds"))
    var keyRetryInterval = 30.0

    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    /// Bytes in a size like `1MiB`, `256KiB` or `65536`; nil when it is not one or does not fit.
    static func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased().replacingOccurrences(of: " ", with: "")
        for (suffix, factor) in [("mib", 1 << 20), ("mb", 1_000_000), ("kib", 1 << 10), ("kb", 1000), ("b", 1)] where lower.hasSuffix(suffix) {
            guard let count = Int(lower.dropLast(suffix.count)) else { return nil }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return Int(lower)
    }

    func validate() throws {
        // Bodies are held in memory whole; 1 GiB is far above any webhook.
        guard let size = Self.parseSize(maxBody), (1...(1 << 30)).contains(size) else {
            throw ValidationError("--max-body takes a size from 1 byte to 1024MiB like 1MiB, 256KiB or 65536, got \(maxBody)")
        }
        try FlagChecks.port(port)
        try FlagChecks.seconds(dedupWindow, "--dedup-window", allowingZero: true, maximum: 366 * 86_400)
        if let verify {
            guard WebhookScheme(rawValue: verify) != nil else {
                throw ValidationError("--verify must be stripe, github, shopify, standard or hmac")
            }
            guard secretFile != nil else { throw ValidationError("--verify needs --secret-file PATH with the signing secret") }
        }
        if let workers { try FlagChecks.integer(workers, "--workers", 1...1024) }
        guard keyRetryInterval.isFinite, keyRetryInterval >= 0 else {
            throw ValidationError("--key-retry-interval takes a number of seconds, 0 or more")
        }
    }

    func run() async throws {
        var server: WebhookServerConfiguration
        do {
            server = WebhookServerConfiguration(
                rule: try ruleFlags.options(rulesPath: rules), delivery: try deliveryFlags.configuration(forServe: true))
            if let secretFile {
                server.verifySecret = try Self.readSecret(secretFile, what: "--secret-file")
            }
            if let authTokenFile {
                server.authToken = try Self.readSecret(authTokenFile, what: "--auth-token-file")
            }
        } catch {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(2)
        }
        server.host = host
        server.port = port
        server.spoolPath = spool
        server.maxBodyBytes = Self.parseSize(maxBody) ?? (1 << 20)
        server.workers = workers ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        server.verifyScheme = verify.flatMap(WebhookScheme.init(rawValue:))
        server.verifyOptions.hmac.header = hmacHeader.lowercased()
        server.dedupWindow = dedupWindow
        server.drainTimeout = deliveryFlags.drainTimeout
        server.keyRetryInterval = keyRetryInterval
        do {
            try await runWebhookServer(configuration: server)
        } catch let error as RuleLoadError {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(2)
        } catch let error as WebhookServerError {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(2)
        } catch {
            Diagnostics.write("error: serve stopped: \(error)")
            throw ExitCode.failure
        }
    }

    static func readSecret(_ path: String, what: String) throws(RuleLoadError) -> String {
        try SecretFile.read(path, flag: what)
    }
}
