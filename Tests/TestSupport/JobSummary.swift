import Foundation

/// What a job printed, as the tests read it: the numbers of its summary line, and the JSON lines of
/// its events, dead-letter files and recorded requests.
public enum JobSummary {
    /// Each number of `text` by the word after it: `done: 12 records: 10 with events, ...; 20 events`
    /// gives `records: 12, with: 10, events: 20` (the first number for a word wins).
    public static func numbers(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        // `done: 12 records: 10 with events, ...; 20 events; ...`: the colon after "records" goes too.
        let words = text.replacingOccurrences(of: ",", with: " ").replacingOccurrences(of: ";", with: " ")
            .replacingOccurrences(of: ":", with: " ").split(whereSeparator: \.isWhitespace).map(String.init)
        for (i, word) in words.enumerated() where i > 0 {
            if let n = Int(words[i - 1]), result[word] == nil { result[word] = n }
        }
        return result
    }

    /// The JSON objects of the file at `path`, one per line (a dead-letter file, a record file).
    public static func entries(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The `user.email` of each event line of `stdout` (a dry run's output).
    public static func emails(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").compactMap {
            let event = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return (event?["user"] as? [String: Any])?["email"] as? String
        }
    }

    /// The events of JSON lines (dead-letter entries or request bodies), as objects.
    public static func events(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { line -> [String: Any]? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object["event"] as? [String: Any] ?? object
        }
    }

    /// Per person (`userId`), the `Step` tracks come with increasing `properties.seq`.
    public static func inPerPersonOrder(_ events: [[String: Any]]) -> Bool {
        var last: [String: Int] = [:]
        for event in events where event["name"] as? String == "Step" {
            guard let uid = (event["user"] as? [String: Any])?["userId"] as? String,
                let seq = (event["properties"] as? [String: Any])?["seq"] as? Int
            else { return false }
            if let previous = last[uid], previous >= seq { return false }
            last[uid] = seq
        }
        return true
    }

    /// `stderr` with what differs between two runs of the same input taken out of the summary line
    /// (its seconds and rate, the delivery latencies), for comparing `--jobs 1` with `--jobs N`.
    public static func withoutTimings(_ stderr: String) -> String {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let outcome = line.hasPrefix("replay ") ? line.dropFirst(7) : line[...]
            guard outcome.hasPrefix("done: ") || outcome.hasPrefix("stopped: ") || outcome.hasPrefix("interrupted: "),
                let tail = line.range(of: " in ", options: .backwards)
            else { return String(line) }
            var head = String(line[..<tail.lowerBound])
            if let latency = head.range(of: ", latency p50 ") { head.removeSubrange(latency.lowerBound...) }
            return head
        }.joined(separator: "\n")
    }

    /// The lines of a dead-letter file with the members that differ between runs (`run_id`, `at`)
    /// taken out.
    public static func deadLettersWithoutRunMembers(_ text: String) -> String {
        text.replacingOccurrences(of: #""run_id":"[^"]*","#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #","at":"[^"]*""#, with: "", options: .regularExpression)
    }
}

/// Files for a run that fails one record of three: a rule that needs `email`, the fixed rule that
/// also takes `mail`, and the input (two good records, one bad).
public func failingRun(_ tmp: TemporaryDirectory) throws -> (rules: String, fixed: String, input: String) {
    let rules = try tmp.write("rules.lua", "function on_record(r) encharge.identify{ email = r.email } end")
    let fixed = try tmp.write("fixed.lua", "function on_record(r) encharge.identify{ email = r.email or r.mail } end")
    let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n{\"mail\":\"b@x.io\"}\n{\"email\":\"c@x.io\"}\n")
    return (rules, fixed, input)
}
