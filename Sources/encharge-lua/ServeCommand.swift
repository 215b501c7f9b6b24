import ArgumentParser
import EnchargeCommands
import EnchargeRules
import SystemKit
import WebhookServer

struct ServeCommand: AsyncParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the rule on each webhook request and deliver its events durably in the background.",
        discussion: """
            Each request calls on_webhook(req), or routes["METHOD /path"] when the rule defines a \
            routes table. Its events are committed to the spool before the response is sent; a \
            background worker delivers them with the semantics of run. The spool is a SQLite file \
            (one serve delivers it), or a postgres:// URL that any number of serve replicas and \
            deliver workers share, each delivering its share of the lanes (per-person order holds \
            across them); --no-deliver only accepts. The PostgreSQL password is read from \
            --spool-password-file, else from the URL, else from $PGPASSWORD, and never printed. GET /healthz and \
            GET /metrics (Prometheus) are built in. SIGTERM/SIGINT stop gracefully within \
            --drain-timeout, leaving undelivered events pending in the spool (a second signal exits \
            at once, 130); SIGHUP reloads the rule (a broken rule is refused and the old one keeps \
            serving). A SQLite spool is owned by one serve at a time. While the Ingest API refuses the write key \
            (401/403), delivery pauses and /healthz answers 503.

            EXIT CODES
              0    stopped by SIGTERM or SIGINT
              1    the server failed while running
              2    usage, configuration or rule-load error, a port in use, a SQLite
                   spool that another serve owns, or one that cannot be opened
              130  a second SIGTERM or SIGINT stopped it at once

            EXAMPLES
              ENCHARGE_WRITE_KEY=... encharge-lua serve examples/github/rules.lua
              encharge-lua serve rules.lua --verify stripe --secret-file whsec.txt \\
                --write-key-file key.txt --spool /var/lib/encharge/spool.sqlite
              PGPASSWORD=... encharge-lua serve rules.lua --host 0.0.0.0 --no-deliver \\
                --spool postgres://encharge@db.internal:5432/encharge
            """)

    @Argument(help: ArgumentHelp("The rules file, defining on_webhook(req) or a routes table.", valueName: "rules.lua"))
    var rules: String

    @OptionGroup(title: "Server") var serverFlags: ServerFlags
    @OptionGroup(title: "Rule") var ruleFlags: RuleFlags
    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func run() async throws { try await run(context: .process()) }

    func run(context: CommandContext) async throws {
        let (server, spool) = try context.configured { () throws(RuleLoadError) in
            (
                try serverFlags.configuration(
                    rule: try ruleFlags.options(rulesPath: rules).logging(to: context.stderr),
                    delivery: serverFlags.noDeliver
                        ? nil
                        : try deliveryFlags.configuration(
                            forServe: true, environment: context.environment, warn: context.diagnostics.write),
                    drainTimeout: deliveryFlags.drainTimeout, warn: context.diagnostics.write),
                try serverFlags.spoolOpening(context: context)
            )
        }
        try await context.serving(stoppedAs: "serve") {
            let opened = try await spool.open(deliveringAs: server.delivery != nil ? "serve" : nil)
            try await runWebhookServer(
                configuration: server, spool: opened.spool, output: context.stdout, errors: context.stderr)
            await opened.close()
        }
    }
}
