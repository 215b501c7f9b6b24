import ArgumentParser
import EnchargeCommands
import EnchargeRules

struct DeliverCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver a spool's events to Encharge, with no HTTP port: a worker beside serve --no-deliver.",
        discussion: """
            A delivery-only worker: it takes its share of the spool's 64 lanes (a lane is a hash of \
            the person's userId or email) and sends their events in spool order with the semantics of \
            run: per-person order, bounded concurrency, retries with backoff, dead events kept in the \
            spool for replay --spool. On a postgres:// spool any number of deliver workers and serve \
            replicas share the lanes; a lane is held by one process at a time, under an advisory lock \
            PostgreSQL frees when the holder dies, and a worker that dies has its lanes taken over \
            within seconds. A SQLite spool is delivered by one process at a time. Every \
            --status-interval seconds a status line goes to stderr. While the Ingest API refuses the \
            write key (401/403), delivery pauses and is tried again every --key-retry-interval. \
            SIGTERM/SIGINT stop within --drain-timeout, leaving undelivered events pending for the \
            other workers; a second signal stops at once.

            The PostgreSQL password is read from --spool-password-file, else from a password in the \
            URL, else from $PGPASSWORD; it is never printed (a URL with a password is accepted, and \
            shown without it).

            EXIT CODES
              0    stopped by SIGTERM or SIGINT
              2    usage or configuration error, or a spool that cannot be opened
                   (unreachable, refused, or written by a newer encharge-lua)
              130  a second SIGTERM or SIGINT stopped it at once

            EXAMPLES
              PGPASSWORD=... ENCHARGE_WRITE_KEY=... encharge-lua deliver \\
                --spool postgres://encharge@db.internal:5432/encharge
              encharge-lua deliver --spool postgres://encharge@db/encharge \\
                --spool-password-file pg-password.txt --write-key-file key.txt --concurrency 64
            """)

    @Option(
        help: ArgumentHelp(
            "The spool to deliver: a postgres:// URL shared with serve replicas, or a SQLite spool file.",
            valueName: "path-or-url"))
    var spool: String

    @OptionGroup var spoolPassword: SpoolPasswordFlags

    @Option(help: ArgumentHelp("Seconds between status lines on stderr; 0 prints none.", valueName: "seconds"))
    var statusInterval = 10.0

    @OptionGroup var keyRetry: KeyRetryFlags

    @OptionGroup(title: "Delivery") var deliveryFlags: DeliveryFlags

    func validate() throws {
        try FlagChecks.seconds(statusInterval, "--status-interval", allowingZero: true)
    }

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        let job = try context.configured { () throws(RuleLoadError) in
            DeliverJobConfiguration(
                spool: try spoolPassword.opening(spool: spool, context: context),
                delivery: try deliveryFlags.configuration(
                    forServe: true, environment: context.environment, warn: context.diagnostics.write),
                drainTimeout: deliveryFlags.drainTimeout, keyRetryInterval: keyRetry.keyRetryInterval,
                statusInterval: statusInterval)
        }
        try deliverJob(job, context: context).exit()
    }
}
