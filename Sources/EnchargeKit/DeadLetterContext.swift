import SystemKit

/// What every dead-letter entry of one run carries besides its own facts.
public struct DeadLetterContext: Sendable, Hashable {
    /// SHA-256 of the rules file that produced the entries, lower-case hex; nil when unknown.
    public var rulesSHA256: String?
    /// Names the run that wrote the entry, so the entries of several runs appended to one file can be
    /// told apart (`20261130T061804Z-9f3c2a1b`).
    public var runID: String
    /// True for entries of a `--dry-run`: they record what would have failed, nothing was sent, and
    /// `replay` refuses them.
    public var dryRun: Bool

    /// A context for one run: by default a fresh run id, no rules digest, not a dry run.
    public init(rulesSHA256: String? = nil, runID: String = DeadLetterContext.newRunID(), dryRun: Bool = false) {
        self.rulesSHA256 = rulesSHA256
        self.runID = runID
        self.dryRun = dryRun
    }

    /// A fresh run id: the UTC time now and 32 random bits. Each job makes its context once, so a
    /// job's entries share one id, and two jobs in one process (in-process tests, a library user)
    /// get two.
    public static func newRunID() -> String {
        // `2026-11-30T06:18:04Z` in ISO 8601's basic form, `20261130T061804Z`.
        let seconds = Int64(SystemClock.wallSeconds().rounded(.down))
        let stamp = EnchargeDate.format(epochMilliseconds: seconds * 1000).filter { $0 != "-" && $0 != ":" }
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return stamp + "-" + String(repeating: "0", count: 8 - random.count) + random
    }
}
