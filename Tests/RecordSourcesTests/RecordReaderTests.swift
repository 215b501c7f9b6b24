import Foundation
import JSONKit
import TestSupport
import Testing

@testable import RecordSources

/// The format a file name implies.
@Suite struct InputFormatTests {
    static let paths: [(path: String, format: InputFormat?)] = [
        ("signups.jsonl", .jsonl), ("EVENTS.NDJSON", .jsonl), ("dump.json", .json), ("a/b.Json", .json),
        ("people.csv", .csv), ("notes.txt", nil), ("jsonl", nil), ("archive.json.gz", nil),
    ]

    @Test(arguments: paths)
    func fileExtensionSelectsTheFormat(path: String, format: InputFormat?) {
        #expect(InputFormat(path: path) == format)
    }
}

/// Opening an input, its progress, and stopping a reader early.
@Suite struct RecordReaderTests {
    @Test func missingFileIsAnInputErrorSentence() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let missing = scratch.path + "/missing.jsonl"
        let error = #expect(throws: InputError.self) {
            _ = try RecordReader(path: missing, format: .jsonl, warn: ignoreWarnings)
        }
        #expect(error?.description == "cannot open \(missing): No such file or directory; check the input path")
    }

    @Test func directoryIsAnInputErrorSentence() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let error = #expect(throws: InputError.self) {
            _ = try RecordReader(path: scratch.path, format: .json, warn: ignoreWarnings)
        }
        #expect(error?.description == "cannot read \(scratch.path): it is a directory; give a file")
    }

    @Test func standardInputIsNamedStdin() throws {
        let reader = try RecordReader(path: "-", format: .jsonl, warn: ignoreWarnings)
        #expect(reader.displayName == "stdin")
        #expect(reader.progress.total == nil)
    }

    @Test func progressReachesTheFileSize() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let text = "{\"a\":1}\n{\"b\":2}\n"
        let path = try scratch.write("p.jsonl", text)
        let reader = try RecordReader(path: path, format: .jsonl, warn: ignoreWarnings)
        #expect(reader.displayName == path)
        #expect(reader.progress.read == 0)
        #expect(reader.progress.total == text.utf8.count)
        try reader.forEach { _, _ in true }
        #expect(reader.progress.read == text.utf8.count)
    }

    @Test(arguments: [InputFormat.jsonl, .json, .csv])
    func returningFalseStopsTheReader(format: InputFormat) throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let text =
            switch format {
            case .jsonl: "{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n"
            case .json: "[{\"i\":1},{\"i\":2},{\"i\":3},{\"i\":4}]"
            case .csv: "i\n1\n2\n3\n4\n"
            }
        let path = try scratch.write("stop.\(format.rawValue)", text)
        let records = try readRecords(path, format, limit: 2)
        #expect(records.count == 2)
        #expect(records.map(\.line) == (format == .json ? [1, 1] : [1, 2]))
    }
}
