import SystemKit

extension SQLiteSpool {
    /// Every lane: one process delivers a SQLite spool, the holder of its `SpoolOwnerLock` (whoever
    /// opens the spool to deliver takes that lock first).
    package func balanceLanes(busy: Set<Int>) throws(SpoolError) -> Set<Int> { SpoolLanes.all }

    /// Read on the calling thread, from a snapshot of the file.
    package func pendingEvents(after cursor: Int64, lanes: Set<Int>, limit: Int) throws(SpoolError)
        -> [SpoolPendingEvent]
    {
        try store.pendingEvents(after: cursor, lanes: lanes, limit: limit)
    }

    /// Queued for the writer thread's next transaction (without an fsync of its own).
    package func settle(_ settlement: SpoolSettlement) { store.settle(settlement) }

    /// Waits for the writer thread's transaction that took the last settlement handed over.
    package func waitForSettlements() { store.waitForSettlements() }

    /// Bumped by this process's commits that added events and by `wake`; another process's commits
    /// show within the worker's one-second wait.
    package var commitGeneration: UInt64 { store.commits.withLock { $0 } }

    /// Sleeps on the commit signal, so this process's commits wake it at once.
    package func waitForCommit(after generation: UInt64, timeout: Double) {
        store.commits.withLock(whenReady: { $0 != generation }, timeout: timeout) { _ in }
    }

    /// Bumps the commit signal without a commit.
    package func wake() { store.poke() }
}
