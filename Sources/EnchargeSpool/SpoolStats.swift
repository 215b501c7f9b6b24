/// Counts of what the spool holds, for `/metrics` and `replay --spool`.
public struct SpoolStats: Sendable, Hashable {
    /// Events stored and not yet delivered or dead (those on the wire right now included).
    public var pending: Int
    /// Events delivered since the spool file was created (delivered rows are deleted; this counter stays).
    public var delivered: Int
    /// Events given up on, kept with their reason until `requeueDeadEvents`.
    public var dead: Int
    /// Raw requests whose rule failed, kept for replay.
    public var failedRequests: Int
    /// When the oldest pending event was accepted (Unix seconds), nil when none is pending.
    public var oldestPendingAcceptedAt: Double?

    public init(
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
