import Foundation
import JSONKit
import TestSupport
import Testing

@testable import RecordSources

/// `JSONLinesReader`: one record per physical line.
@Suite struct JSONLinesReaderTests {
    @Test func jsonLinesSkipBlankLinesAndKeepPhysicalLineNumbers() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("a.jsonl", "{\"a\":1}\n\n  \n{\"b\":2}\n\t\n\r\nnot json\n")
        #expect(
            try readRecords(path, .jsonl) == [
                .json(#"{"a":1}"#, line: 1),
                .json(#"{"b":2}"#, line: 4),
                .json("not json", line: 7),
            ])
    }

    @Test func jsonLinesStripCRLFAndTheByteOrderMark() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("crlf.jsonl", "\u{FEFF}{\"a\":1}\r\n{\"b\":\"x\"}\r\n")
        #expect(
            try readRecords(path, .jsonl) == [
                .json(#"{"a":1}"#, line: 1),
                .json(#"{"b":"x"}"#, line: 2),
            ])
    }

    @Test func jsonLinesReadTheLastLineWithoutANewline() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("tail.jsonl", "{\"a\":1}\n{\"b\":2}")
        #expect(
            try readRecords(path, .jsonl) == [
                .json(#"{"a":1}"#, line: 1),
                .json(#"{"b":2}"#, line: 2),
            ])
    }

    @Test func emptyJSONLinesFileHasNoRecords() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        #expect(try readRecords(try scratch.write("empty.jsonl", ""), .jsonl) == [])
        #expect(try readRecords(try scratch.write("blank.jsonl", "\n\n \r\n"), .jsonl) == [])
    }

    @Test func oversizedLineIsMalformedAndTheNextLineIsStillRead() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let big = #"{"big":""# + String(repeating: "x", count: 5 << 19) + #""}"#  // 2.5 MiB
        let path = try scratch.write("big.jsonl", "{\"a\":1}\n" + big + "\n{\"b\":2}\n")
        #expect(
            try readRecords(path, .jsonl, maxRecordBytes: 1 << 20) == [
                .json(#"{"a":1}"#, line: 1),
                .malformed("line is longer than 1 MiB; split the record", raw: String(big.prefix(80)) + "…", line: 2),
                .json(#"{"b":2}"#, line: 3),
            ])
    }

    @Test func lineManyTimesTheLimitIsReportedOnce() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let big = #"{"big":""# + String(repeating: "x", count: 9 << 19) + #""}"#  // 4.5 MiB
        let path = try scratch.write("huge.jsonl", "{\"a\":1}\n" + big + "\n{\"b\":2}\n")
        let records = try readRecords(path, .jsonl, maxRecordBytes: 1 << 20)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.last == .json(#"{"b":2}"#, line: 3))
        #expect(records.count == 3)
        #expect(records.filter(\.isMalformed).map(\.line) == [2])
    }

    @Test func lineOverASmallLimitIsMalformedEvenWhenItFitsInOneChunk() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let long = #"{"long":""# + String(repeating: "y", count: 2000) + #""}"#
        let path = try scratch.write("small-limit.jsonl", "{\"a\":1}\n" + long + "\n{\"b\":2}\n")
        let records = try readRecords(path, .jsonl, maxRecordBytes: 1024)
        #expect(records.count == 3)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.last == .json(#"{"b":2}"#, line: 3))
        #expect(records.dropFirst().first?.isMalformed == true)
    }

    @Test func jsonLinesAcrossChunkBoundariesKeepEveryRecordAndLine() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let count = 40_000
        var text = ""
        var expected: [ReadRecord] = []
        var line = 0
        for i in 0..<count {
            if i % 1000 == 999 {
                text += "\r\n"
                line += 1
            }
            text += largeRecordJSON(i) + "\n"
            line += 1
            expected.append(.json(largeRecordJSON(i), line: line))
        }
        #expect(text.utf8.count > 3 << 20)
        let records = try readRecords(try scratch.write("large.jsonl", text), .jsonl)
        expectSameRecords(records, expected)
    }
}
