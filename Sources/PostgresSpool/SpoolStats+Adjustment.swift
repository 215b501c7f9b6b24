import EnchargeSpool

extension SpoolStats {
    /// Counts a commit of this process into the cached figures, which other processes' commits
    /// since the last re-read (about a second ago) are missing: the figures are approximate across
    /// processes, so a count never goes below 0 (this process delivering events another replica
    /// accepted after the re-read would otherwise make `pending` negative).
    mutating func count(added: Int = 0, delivered: Int = 0, dead: Int = 0, keptFailures: Int = 0) {
        pending = max(0, pending + added - delivered - dead)
        self.delivered += delivered
        self.dead = max(0, self.dead + dead)
        failedRequests += keptFailures
    }
}
