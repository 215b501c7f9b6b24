import EnchargeRules
import JSONKit
import RecordSources

/// What `MappingRun` says about how its inputs were read: keys repeated in one JSON object, a
/// list response read as one record, and input errors in compiler form.
extension MappingRun {
    /// At the end of a run, the count for each key that was repeated more than once.
    func reportDuplicateKeyCounts() {
        let keys = mergedDuplicateKeys ?? engine.duplicateJSONKeys
        for (key, repeats) in keys.counts where repeats > 1 {
            report(
                "warning: key \(RuleEngine.quotedKey(key)) was repeated \(repeats) times in JSON objects; "
                    + "the last value was used each time")
        }
        let more = keys.untrackedRepeats
        if more > 0 {
            report(
                "warning: \(more) more repeated key\(more == 1 ? "" : "s") in JSON objects, not listed one by one; "
                    + "the last value was used each time")
        }
    }

    /// After a `.json` input that was one object holding exactly one array of objects, and whose
    /// one record made no event (skipped, failed or empty): suggests reading the array instead.
    func suggestRecordsPath(reader: RecordReader, before: MappingSummary) {
        guard let suggestion = reader.suggestedRecordsPath, summary.records - before.records == 1,
            summary.events == before.events
        else { return }
        report(
            "warning: \(reader.displayName) is one JSON object whose member \(suggestion.pointer) is an array of "
                + "\(suggestion.count) object\(suggestion.count == 1 ? "" : "s"), read as one record; to read each "
                + "object as a record, pass --records-path \(suggestion.pointer)")
    }
}
