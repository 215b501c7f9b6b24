import JSONKit

extension RuleEngine {
    /// `in.jsonl:3: warning: key "email" appears more than once in one JSON object; …`, once per
    /// key for the life of the engine, for keys that decoding (the record, `req.json`,
    /// `json.decode`) found repeated since the last call.
    public func reportNewDuplicateJSONKeys(source: String) {
        guard state.jsonDuplicateKeys.hasNew else { return }
        for key in state.takeNewJSONDuplicateKeys() {
            Diagnostics.write(
                "\(source): warning: key \(MappingRun.quotedKey(key)) appears more than once in one JSON object; "
                    + "the last value is used")
        }
    }
}

/// What `MappingRun` says about how its inputs were read: keys repeated in one JSON object, a
/// list response read as one record, and input errors in compiler form.
extension MappingRun {
    /// At the end of a run, the count for each key that was repeated more than once.
    func reportDuplicateKeyCounts() {
        for (key, repeats) in engine.state.jsonDuplicateKeys.counts where repeats > 1 {
            report(
                "warning: key \(Self.quotedKey(key)) was repeated \(repeats) times in JSON objects; "
                    + "the last value was used each time")
        }
        let more = engine.state.jsonDuplicateKeys.untrackedRepeats
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

    /// A key as a JSON string, so control characters in untrusted input cannot forge output.
    static func quotedKey(_ key: String) -> String {
        var writer = JSONWriter()
        writer.write(.string(key))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
