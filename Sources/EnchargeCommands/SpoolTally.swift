import EnchargeSpool

/// What `run --spool` committed: events spooled, events an earlier run of the same input had
/// already spooled (not spooled again), and the first commit that failed.
struct SpoolTally {
    var spooled: Int
    var duplicates: Int
    var failure: SpoolError?
}
