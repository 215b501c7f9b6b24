import Foundation

/// The numbers of a job's summary line, as the tests read them.
enum JobSummary {
    /// Each number of `text` by the word after it: `done: 12 records: 10 with events, ...; 20 events`
    /// gives `records: 12, with: 10, events: 20` (the first number for a word wins).
    static func numbers(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        // `done: 12 records: 10 with events, ...; 20 events; ...`: the colon after "records" goes too.
        let words = text.replacingOccurrences(of: ",", with: " ").replacingOccurrences(of: ";", with: " ")
            .replacingOccurrences(of: ":", with: " ").split(whereSeparator: \.isWhitespace).map(String.init)
        for (i, word) in words.enumerated() where i > 0 {
            if let n = Int(words[i - 1]), result[word] == nil { result[word] = n }
        }
        return result
    }
}
