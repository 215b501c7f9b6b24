import Foundation
import JSONKit
import TestSupport
import Testing

@testable import RecordSources

/// `CSVReader`: a header row, then one record per row.
@Suite struct CSVReaderTests {
    @Test func csvRowsBecomeStringRecordsWithoutEmptyCells() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("p.csv", "name,email,age\nAnn,ann@example.com,31\nBob,,\n")
        #expect(
            try readRecords(path, .csv) == [
                .value(["name": "Ann", "email": "ann@example.com", "age": "31"], line: 1),
                .value(["name": "Bob"], line: 2),
            ])
    }

    @Test func quotedCSVFieldsHoldCommasQuotesAndNewlines() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let text = "name,note\n\"Smith, Ann\",\"said \"\"hi\"\"\"\n\"multi\nline\",x\nlast,\"\"\n\"\"\"\",\",\"\n"
        #expect(
            try readRecords(try scratch.write("q.csv", text), .csv) == [
                .value(["name": "Smith, Ann", "note": #"said "hi""#], line: 1),
                .value(["name": "multi\nline", "note": "x"], line: 2),
                .value(["name": "last"], line: 3),
                .value(["name": "\"", "note": ","], line: 4),
            ])
    }

    @Test func csvWithCRLFBlankLinesAndByteOrderMark() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("crlf.csv", "\u{FEFF}id,name\r\n7,Ann\r\n\r\n\n8,Bob\r\n")
        #expect(
            try readRecords(path, .csv) == [
                .value(["id": "7", "name": "Ann"], line: 1),
                .value(["id": "8", "name": "Bob"], line: 2),
            ])
    }

    @Test func quotedLastCellInACRLFFileDropsTheCarriageReturn() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("quoted-crlf.csv", "\"id\",\"name\"\r\n\"7\",\"Ann\"\r\n")
        let records = try readRecords(path, .csv)
        #expect(records == [.value(["id": "7", "name": "Ann"], line: 1)])
    }

    @Test func csvReadsTheLastRowWithoutANewline() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("tail.csv", "a,b\n1,2\n3,\"4\"")
        #expect(
            try readRecords(path, .csv) == [
                .value(["a": "1", "b": "2"], line: 1),
                .value(["a": "3", "b": "4"], line: 2),
            ])
    }

    @Test func csvHeaderIsTrimmedButCellsAreNot() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("trim.csv", " id ,\tname\t,,note\n  1 ,x,skipped,\n")
        #expect(try readRecords(path, .csv) == [.value(["id": "  1 ", "name": "x"], line: 1)])
    }

    @Test func shortCSVRowLeavesTrailingColumnsAbsent() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("short.csv", "a,b,c\n1\n1,2\n")
        #expect(try readRecords(path, .csv) == [.value(["a": "1"], line: 1), .value(["a": "1", "b": "2"], line: 2)])
    }

    @Test func csvRowWithTooManyCellsIsMalformedAndReadingGoesOn() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("many.csv", "a,b\n1,2,3\n4,5\n")
        #expect(
            try readRecords(path, .csv) == [
                .malformed("row has 3 cells but the header has 2", raw: "1,2,3", line: 1),
                .value(["a": "4", "b": "5"], line: 2),
            ])
    }

    @Test func csvRowWithInvalidUTF8IsMalformedAndReadingGoesOn() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let bytes = Array("a,b\nx,".utf8) + [0xC0, 0xAF] + Array("\ny,z\n".utf8)
        #expect(
            try readRecords(try scratch.write("latin.csv", bytes: bytes), .csv) == [
                .malformed("row is not valid UTF-8; save the file as UTF-8", raw: "x,\u{FFFD}\u{FFFD}", line: 1),
                .value(["a": "y", "b": "z"], line: 2),
            ])
    }

    @Test func csvHeaderWithInvalidUTF8IsAnInputError() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("bad-header.csv", bytes: Array("a,".utf8) + [0xE9] + Array("\n1,2\n".utf8))
        let error = #expect(throws: InputError.self) { _ = try readRecords(path, .csv) }
        #expect(error?.description == "\(path):1: the CSV header row is not valid UTF-8; save the file as UTF-8")
    }

    @Test(arguments: ["", "a,b\n", "a,b", "\n\na,b\r\n\r\n"])
    func csvWithoutDataRowsHasNoRecords(text: String) throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        #expect(try readRecords(try scratch.write("none.csv", text), .csv) == [])
    }

    /// The row with the stray quote fails alone; reading resumes on the line after the quote.
    @Test func unclosedCSVQuoteFailsItsRowAndReadingResumesOnTheNextLine() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("open.csv", "a,b\n1,2\n3,\"open\nstill open\n")
        #expect(
            try readRecords(path, .csv) == [
                .value(["a": "1", "b": "2"], line: 1),
                .malformed(
                    "a quoted CSV field is not closed (the quote opens on file line 3)", raw: "3,\"open", line: 2),
                .value(["a": "still open"], line: 3),
            ])
    }

    /// A stray quote that closes on a later row's quote shifts that row's cells; the bad row is
    /// found by its cell count and reading resumes after the stray quote's line.
    @Test func strayQuoteClosedByALaterQuoteIsFoundAndTheRowsBetweenAreRead() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("stray.csv", "name,note\n\"Smith, J,a\nAnn,b\nBob,\"c, d\"\nCy,e\n")
        #expect(
            try readRecords(path, .csv) == [
                .malformed(
                    "a quoted CSV field is not closed (the quote opens on file line 2)", raw: "\"Smith, J,a", line: 1),
                .value(["name": "Ann", "note": "b"], line: 2),
                .value(["name": "Bob", "note": "c, d"], line: 3),
                .value(["name": "Cy", "note": "e"], line: 4),
            ])
    }

    /// The quote never closed is the one that fails, not an earlier multi-line field of its row.
    @Test func unclosedQuoteAfterAMultilineFieldResumesAfterTheUnclosedOne() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("both.csv", "a,b,c\n1,\"x\ny\",\"open\n2,q,r\n")
        #expect(
            try readRecords(path, .csv) == [
                .malformed(
                    "a quoted CSV field is not closed (the quote opens on file line 3)", raw: "1,\"x\ny\",\"open",
                    line: 1),
                .value(["a": "2", "b": "q", "c": "r"], line: 2),
            ])
    }

    @Test func legitimateMultilineFieldsAreNotMistakenForStrayQuotes() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("multi.csv", "name,note\r\nAnn,\"two\r\nlines\"\r\nBob,\"x\"\r\n")
        #expect(
            try readRecords(path, .csv) == [
                .value(["name": "Ann", "note": "two\r\nlines"], line: 1),
                .value(["name": "Bob", "note": "x"], line: 2),
            ])
    }

    @Test func unclosedQuoteOverTheSizeLimitFailsItsRowOnlyAcrossChunks() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        var text = "id,note\n1,\"never closed\n"
        for i in 2...40_000 { text += "\(i),row \(i)\n" }
        let records = try readRecords(try scratch.write("big-open.csv", text), .csv, maxRecordBytes: 64 << 10)
        #expect(records.count == 40_000)
        #expect(
            records.first
                == .malformed(
                    "a quoted CSV field is not closed (the quote opens on file line 2)", raw: "1,\"never closed",
                    line: 1))
        #expect(records.last == .value(["id": "40000", "note": "row 40000"], line: 40_000))
        #expect(records.filter(\.isMalformed).count == 1)
    }

    @Test func bareCarriageReturnEndsARowAndCRLFIsOneLineEnd() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("mac.csv", "a,b\r1,2\r\n3,\"x\ry\"\r\r4,\"z\"")
        #expect(
            try readRecords(path, .csv) == [
                .value(["a": "1", "b": "2"], line: 1),
                .value(["a": "3", "b": "x\ry"], line: 2),
                .value(["a": "4", "b": "z"], line: 3),
            ])
    }

    @Test(arguments: [(UInt8(ascii: ";"), ";"), (0x09, "\t"), (UInt8(ascii: "|"), "|")])
    func delimiterSeparatesFieldsAndQuotesStillProtectIt(delimiter: UInt8, separator: String) throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let text =
            ["id", "name", "note"].joined(separator: separator) + "\n"
            + ["1", "\"Smith\(separator) J\"", "a,b"].joined(separator: separator) + "\n"
        let reader = try RecordReader(
            path: try scratch.write("d.csv", text), format: .csv, delimiter: delimiter, warn: ignoreWarnings)
        var records: [JSONValue] = []
        try reader.forEach { body, _ in
            if case .value(let value) = body { records.append(value) }
            return true
        }
        #expect(records == [["id": "1", "name": .string("Smith\(separator) J"), "note": "a,b"]])
    }

    @Test(arguments: [
        ("tab", UInt8(0x09)), ("\\t", 0x09), ("\t", 0x09), (";", UInt8(ascii: ";")), ("|", UInt8(ascii: "|")),
    ])
    func delimiterNames(text: String, byte: UInt8) throws {
        #expect(try RecordReader.delimiter(named: text) == byte)
    }

    @Test(arguments: ["", ";;", "\"", "\n", "é"])
    func delimiterThatIsNotOneCharacterIsRefused(text: String) throws {
        #expect(throws: InputError.self) { try RecordReader.delimiter(named: text) }
    }

    @Test func duplicateHeaderNamesAreAnInputErrorNamingBothColumns() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("dup.csv", "id, email ,,name,,email\n1,a@x.io,,Ann,,b@x.io\n")
        let error = #expect(throws: InputError.self) { _ = try readRecords(path, .csv) }
        #expect(
            error?.description
                == "\(path):1: the CSV header names column 2 and column 6 both 'email'; rename one so no column is lost"
        )
    }

    @Test func oneColumnHeaderHoldingASemicolonWarnsOnceAndReadingGoesOn() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("semi.csv", "email;name\na@x.io;Ann\n")
        var warnings: [String] = []
        let reader = try RecordReader(path: path, format: .csv, warn: { warnings.append($0) })
        var count = 0
        try reader.forEach { _, _ in
            count += 1; return true
        }
        #expect(count == 1)
        #expect(
            warnings == [
                "\(path):1: warning: the CSV header is one column holding ';'; if the file is separated by it, pass --delimiter ';'"
            ])
    }

    @Test func csvAcrossChunkBoundariesKeepsEveryRowAndItsNumber() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let count = 45_000
        func note(_ i: Int) -> String { "note \(i), \"quoted\"\n" + String(repeating: "n", count: i % 37) }
        var text = "id,note,pad\n"
        for i in 1...count {
            let escaped = note(i).replacingOccurrences(of: "\"", with: "\"\"")
            text += "\(i),\"\(escaped)\",\(String(repeating: "p", count: 20 + i % 13))\r\n"
        }
        #expect(text.utf8.count > 3 << 20)
        let records = try readRecords(try scratch.write("large.csv", text), .csv)
        let expected: [ReadRecord] = (1...count).map { i in
            .value(
                [
                    "id": .string("\(i)"), "note": .string(note(i)),
                    "pad": .string(String(repeating: "p", count: 20 + i % 13)),
                ], line: i)
        }
        expectSameRecords(records, expected)
    }
}
