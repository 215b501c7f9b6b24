import JSONKit

/// The counts of a replay and the record entry being mapped again, shared with its watchdog.
final class ReplayProgress {
    var summary = MappingSummary()
    /// The record entry whose rule call is running, for `AbandonedReplayHandover`.
    var current: (record: JSONValue, source: String)?
    /// Entries of the input handed to the replay so far (the current one included).
    var entriesSeen = 0
}
