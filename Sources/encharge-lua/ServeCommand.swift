import ArgumentParser
import EnchargeRules
import WebhookServer
import WebhookSignatures

#if canImport(Glibc)
import Glibc
import SystemKit
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
              2    usage, configuration or rule-load error, a port in use, or a spool
                   that another serve owns
              130  a second SIGTERM or SIGINT stopped it at once

            EXAMPLES
              ENCHARGE_WRITE_KEY=... encharge-lua serve examples/github/rules.lua
              encharge-lua serve rules.lua --verify stripe --secret-file whsec.txt \\
                --write-key-file key.txt --spool /var/lib/encharge/spool.sqlite
            """)

    @Argument(help: ArgumentHelp("The rules file, defining on_webhook(req) or a routes table.", valueName: "rules.lua"))
    var rules: String

    @OptionGroup(title: "Server") var serverFlags: ServerFlags
    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func run() async throws {
        var server: WebhookServerConfiguration
        do {
            server = WebhookServerConfiguration(
                rule: try ruleFlags.options(rulesPath: rules), delivery: try deliveryFlags.configuration(forServe: true))
            if let secretFile = serverFlags.secretFile {
                server.verifySecret = try Self.readSecret(secretFile, what: "--secret-file")
            }
            if let authTokenFile = serverFlags.authTokenFile {
                server.authToken = try Self.readSecret(authTokenFile, what: "--auth-token-file")
            }
        } catch {
            Diagnostics.write("error: \(error.description)")
            throw ExitCode(2)
        }
        server.host = serverFlags.host
        server.port = serverFlags.port
        server.spoolPath = serverFlags.spool
        server.maxBodyBytes = ServerFlags.parseSize(serverFlags.maxBody) ?? (1 << 20)
        server.workers = serverFlags.workers ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        server.verifyScheme = serverFlags.verify.flatMap(WebhookScheme.init(rawValue:))
        server.verifyOptions.hmac.header = serverFlags.hmacHeader.lowercased()
        server.dedupWindow = serverFlags.dedupWindow
        server.drainTimeout = deliveryFlags.drainTimeout
        server.keyRetryInterval = serverFlags.keyRetryInterval
        server.keptRequestCap.maxCount = serverFlags.maxKeptRequests
        server.keptRequestCap.maxBytes = ServerFlags.parseSize(serverFlags.maxKeptBytes) ?? (256 << 20)
        server.maxSpoolEvents = serverFlags.maxSpoolEvents
        server.headerTimeout = serverFlags.headerTimeout
        do {
            try await runWebhookServer(configuration: server, output: .standardOutput, errors: .standardError)
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
