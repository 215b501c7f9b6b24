import ArgumentParser
import EnchargeCommands
import EnchargeKit
import EnchargeRules
import WebhookServer
import WebhookSignatures

#if canImport(Glibc)
import Glibc
import EnchargeSpool
import Foundation
#endif

/// The flags of `serve` that shape the HTTP server: where it listens, its spool, its limits and
/// the checks a request passes before the rule runs.
struct ServerFlags: ParsableArguments {
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one (printed on start).")
    var port = 8080

    @Option(
        help: ArgumentHelp(
            "The spool: a SQLite file (created if missing), or a postgres:// URL shared with other serve replicas and deliver workers.",
            valueName: "path-or-url"))
    var spool = "encharge-spool.sqlite"

    @OptionGroup var spoolPassword: SpoolPasswordFlags

    @Flag(help: "Accept and commit requests without delivering them; deliver workers send the events.")
    var noDeliver = false

    @Option(
        help: ArgumentHelp(
            "Largest request body, e.g. 1MiB, 256KiB or a byte count; larger answers 413.", valueName: "size"))
    var maxBody = "1MiB"

    @Option(help: ArgumentHelp("Lua states serving requests at once (default: number of cores).", valueName: "n"))
    var workers: Int?

    @OptionGroup var verification: VerifyFlags

    @Option(
        help: ArgumentHelp("Require `Authorization: Bearer <token>` with the token in this file.", valueName: "path"))
    var authTokenFile: String?

    @Option(help: ArgumentHelp("Seconds a delivery id is remembered for dedup.", valueName: "seconds"))
    var dedupWindow = 86_400.0

    @OptionGroup var keyRetry: KeyRetryFlags

    @Option(
        help: ArgumentHelp("Failed requests kept for replay at most; past it the oldest are dropped.", valueName: "n"))
    var maxKeptRequests = 10_000

    @Option(
        help: ArgumentHelp(
            "Bytes of failed requests kept for replay at most, e.g. 256MiB; past it the oldest are dropped.",
            valueName: "size"))
    var maxKeptBytes = "256MiB"

    @Option(
        help: ArgumentHelp(
            "Undelivered events the spool may hold; at this many, requests are answered 503 with Retry-After until delivery catches up.",
            valueName: "n"))
    var maxSpoolEvents = 1_000_000

    @Option(
        help: ArgumentHelp(
            "Seconds of the measured delivery rate the spool's backlog may hold before requests that add events wait (up to 10 ms each) before their commit, so senders slow to what delivery sustains; 0 turns this off.",
            valueName: "seconds"))
    var paceBacklog = 1.0

    @Option(
        help: ArgumentHelp(
            "Seconds a client has to send a request's headers (from connecting or from the previous response); slower connections are closed.",
            valueName: "seconds"))
    var headerTimeout = 10.0

    @Flag(
        help:
            "Print a block per request on stderr (for development): each event with the rule line that emitted it, log lines, errors and the answer; secrets and signature headers are never shown."
    )
    var trace = false

    /// Bytes in a size like `1MiB`, `256KiB` or `65536`; nil when it is not one or does not fit.
    static func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased().replacingOccurrences(of: " ", with: "")
        for (suffix, factor) in [("mib", 1 << 20), ("mb", 1_000_000), ("kib", 1 << 10), ("kb", 1000), ("b", 1)]
        where lower.hasSuffix(suffix) {
            guard let count = Int(lower.dropLast(suffix.count)) else { return nil }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return Int(lower)
    }

    func validate() throws {
        // Bodies are held in memory whole; 1 GiB is far above any webhook.
        guard let size = Self.parseSize(maxBody), (1...(1 << 30)).contains(size) else {
            throw ValidationError(
                "--max-body takes a size from 1 byte to 1024MiB like 1MiB, 256KiB or 65536, got \(maxBody)")
        }
        try FlagChecks.port(port)
        try FlagChecks.seconds(dedupWindow, "--dedup-window", allowingZero: true, maximum: 366 * 86_400)
        if let workers { try FlagChecks.integer(workers, "--workers", 1...1024) }
        try FlagChecks.integer(maxKeptRequests, "--max-kept-requests", 1...100_000_000)
        guard let keptBytes = Self.parseSize(maxKeptBytes), keptBytes >= 1 else {
            throw ValidationError("--max-kept-bytes takes a size like 256MiB, 64KiB or 65536, got \(maxKeptBytes)")
        }
        try FlagChecks.integer(maxSpoolEvents, "--max-spool-events", 1...1_000_000_000)
        try FlagChecks.seconds(paceBacklog, "--pace-backlog", allowingZero: true, maximum: 86_400)
        guard headerTimeout.isFinite, headerTimeout > 0, headerTimeout <= 3600 else {
            throw ValidationError(
                "--header-timeout takes a number of seconds above 0 and at most 3600, got \(headerTimeout)")
        }
    }

    /// The spool `--spool` names, with the password of a PostgreSQL one.
    func spoolOpening(context: CommandContext) throws(RuleLoadError) -> SpoolOpening {
        try spoolPassword.opening(spool: spool, context: context)
    }

    /// The server's configuration from these flags, around the rule and delivery (nil with
    /// `--no-deliver`) the other flag groups give; reads the secret files (a file that cannot be read is a configuration error;
    /// `warn` receives the warning about a file others can read).
    func configuration(
        rule: RuleOptions, delivery: DeliveryConfiguration?, drainTimeout: Double, warn: (String) -> Void
    ) throws(RuleLoadError) -> WebhookServerConfiguration {
        var server = WebhookServerConfiguration(rule: rule, delivery: delivery)
        server.verifySecret = try verification.secret(warn: warn)
        if let authTokenFile {
            server.authToken = try SecretFile.read(authTokenFile, flag: "--auth-token-file", warn: warn)
        }
        server.host = host
        server.port = port
        server.maxBodyBytes = Self.parseSize(maxBody) ?? (1 << 20)
        server.workers = workers ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        server.verifyScheme = verification.scheme
        server.verifyOptions = verification.options
        server.dedupWindow = dedupWindow
        server.drainTimeout = drainTimeout
        server.keyRetryInterval = keyRetry.keyRetryInterval
        server.keptRequestCap.maxCount = maxKeptRequests
        server.keptRequestCap.maxBytes = Self.parseSize(maxKeptBytes) ?? (256 << 20)
        server.maxSpoolEvents = maxSpoolEvents
        server.paceBacklog = paceBacklog
        server.headerTimeout = headerTimeout
        server.rule.trace = trace
        return server
    }
}
