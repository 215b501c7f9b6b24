/// How the delivery worker settled one stored event.
package enum SpoolSettlement: Sendable, Hashable {
    /// The Ingest API accepted it: the spool deletes it and counts it delivered.
    case delivered(Int64)
    /// Given up on: the spool keeps it dead with why, the last HTTP status and body, and the attempts.
    case dead(Int64, reason: String, status: Int?, body: String?, attempts: Int)
}
