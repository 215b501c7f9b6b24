/// Counts of what the spool holds, for `/metrics` and `replay --spool`.
package struct SpoolStats: Sendable, Hashable {
    /// Events stored and not yet delivered or dead (those on the wire right now included).
    package var pending: Int
    /// Events delivered since the spool file was created (delivered rows are deleted; this counter stays).
    package var delivered: Int
    /// Events given up on, kept with their reason until `requeueDeadEvents`.
    package var dead: Int
    /// Raw requests whose rule failed, kept for replay.
    package var failedRequests: Int
    /// When the oldest pending event was accepted (Unix seconds), nil when none is pending.
    package var oldestPendingAcceptedAt: Double?

    package init(
        pending: Int = 0, delivered: Int = 0, dead: Int = 0, failedRequests: Int = 0,
        oldestPendingAcceptedAt: Double? = nil
    ) {
        self.pending = pending
        self.delivered = delivered
        self.dead = dead
        self.failedRequests = failedRequests
        self.oldestPendingAcceptedAt = oldestPendingAcceptedAt
    }
}
