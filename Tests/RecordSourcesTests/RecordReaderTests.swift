@testable import RecordSources
import Foundation
import JSONKit
import Testing

/// A fresh directory under the system temporary directory, removed with the value.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("InputReaderTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to a new file and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let filePath = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: filePath))
        return filePath
    }

    func file(_ name: String, _ text: String) throws -> String {
        try file(name, Array(text.utf8))
    }
}

/// What a reader produced, copied out of the callback (its JSON bytes die with the call).
enum ReadRecord: Equatable, CustomStringConvertible {
    case json(String, line: Int)
    case value(JSONValue, line: Int)
    case malformed(String, raw: String, line: Int)

    var line: Int {
        switch self {
        case .json(_, let line), .value(_, let line), .malformed(_, _, let line): line
        }
    }

    var isMalformed: Bool {
        if case .malformed = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .json(let text, let line): "json(\(text.debugDescription)) @\(line)"
        case .value(let value, let line): "value(\(value.encoded())) @\(line)"
        case .malformed(let message, let raw, let line): "malformed(\(message.debugDescription), raw: \(raw.prefix(100).debugDescription)) @\(line)"
        }
    }
}

/// For readers whose warnings a test does not look at.
let ignoreWarnings: @Sendable (String) -> Void = { _ in }

/// Reads every record of `path` (or the first `limit`, stopping the reader by returning false).
func readRecords(
    _ path: String, _ format: InputFormat, maxRecordBytes: Int? = nil, limit: Int = .max
) throws -> [ReadRecord] {
    let reader = try RecordReader(path: path, format: format, warn: ignoreWarnings)
    if let maxRecordBytes { reader.maxRecordBytes = maxRecordBytes }
    var records: [ReadRecord] = []
    try reader.forEach { body, line in
        switch body {
        case .json(let bytes): records.append(.json(String(decoding: bytes, as: UTF8.self), line: line))
        case .value(let value): records.append(.value(value, line: line))
        case .malformed(let message, let raw): records.append(.malformed(message, raw: raw, line: line))
        }
        return records.count < limit
    }
    return records
}

/// Compares long record lists, reporting the count and the first difference instead of both lists.
func expectSameRecords(
    _ actual: [ReadRecord], _ expected: [ReadRecord], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    if let i = actual.indices.first(where: { $0 < expected.count && actual[$0] != expected[$0] }) {
        #expect(actual[i] == expected[i], "first difference at record \(i)", sourceLocation: sourceLocation)
    }
}

/// One generated record of the large-input tests, about 100 bytes, with brackets, commas,
/// quotes and backslashes inside its string so the array splitter must track strings.
func largeRecordJSON(_ i: Int) -> String {
    #"{"i":\#(i),"s":"a],b[{c}\"d\\","pad":"\#(String(repeating: "p", count: 40 + i % 23))"}"#
}

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

@Suite struct InputReaderTests {
    // MARK: Opening

    @Test func missingFileIsAnInputErrorSentence() throws {
        let scratch = try ScratchDirectory()
        let missing = scratch.path + "/missing.jsonl"
        let error = #expect(throws: InputError.self) { _ = try RecordReader(path: missing, format: .jsonl, warn: ignoreWarnings) }
        #expect(error?.description == "cannot open \(missing): No such file or directory; check the input path")
    }

    @Test func directoryIsAnInputErrorSentence() throws {
        let scratch = try ScratchDirectory()
        let error = #expect(throws: InputError.self) { _ = try RecordReader(path: scratch.path, format: .json, warn: ignoreWarnings) }
        #expect(error?.description == "cannot read \(scratch.path): it is a directory; give a file")
    }

    @Test func standardInputIsNamedStdin() throws {
        let reader = try RecordReader(path: "-", format: .jsonl, warn: ignoreWarnings)
        #expect(reader.displayName == "stdin")
        #expect(reader.progress.total == nil)
    }

    @Test func progressReachesTheFileSize() throws {
        let scratch = try ScratchDirectory()
        let text = "{\"a\":1}\n{\"b\":2}\n"
        let path = try scratch.file("p.jsonl", text)
        let reader = try RecordReader(path: path, format: .jsonl, warn: ignoreWarnings)
        #expect(reader.displayName == path)
        #expect(reader.progress.read == 0)
        #expect(reader.progress.total == text.utf8.count)
        try reader.forEach { _, _ in true }
        #expect(reader.progress.read == text.utf8.count)
    }

    // MARK: JSON lines

    @Test func jsonLinesSkipBlankLinesAndKeepPhysicalLineNumbers() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("a.jsonl", "{\"a\":1}\n\n  \n{\"b\":2}\n\t\n\r\nnot json\n")
        #expect(try readRecords(path, .jsonl) == [
            .json(#"{"a":1}"#, line: 1),
            .json(#"{"b":2}"#, line: 4),
            .json("not json", line: 7),
        ])
    }

    @Test func jsonLinesStripCRLFAndTheByteOrderMark() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("crlf.jsonl", "\u{FEFF}{\"a\":1}\r\n{\"b\":\"x\"}\r\n")
        #expect(try readRecords(path, .jsonl) == [
            .json(#"{"a":1}"#, line: 1),
            .json(#"{"b":"x"}"#, line: 2),
        ])
    }

    @Test func jsonLinesReadTheLastLineWithoutANewline() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("tail.jsonl", "{\"a\":1}\n{\"b\":2}")
        #expect(try readRecords(path, .jsonl) == [
            .json(#"{"a":1}"#, line: 1),
            .json(#"{"b":2}"#, line: 2),
        ])
    }

    @Test func emptyJSONLinesFileHasNoRecords() throws {
        let scratch = try ScratchDirectory()
        #expect(try readRecords(try scratch.file("empty.jsonl", ""), .jsonl) == [])
        #expect(try readRecords(try scratch.file("blank.jsonl", "\n\n \r\n"), .jsonl) == [])
    }

    @Test func oversizedLineIsMalformedAndTheNextLineIsStillRead() throws {
        let scratch = try ScratchDirectory()
        let big = #"{"big":""# + String(repeating: "x", count: 5 << 19) + #""}"#  // 2.5 MiB
        let path = try scratch.file("big.jsonl", "{\"a\":1}\n" + big + "\n{\"b\":2}\n")
        #expect(try readRecords(path, .jsonl, maxRecordBytes: 1 << 20) == [
            .json(#"{"a":1}"#, line: 1),
            .malformed("line is longer than 1 MiB; split the record", raw: String(big.prefix(80)) + "…", line: 2),
            .json(#"{"b":2}"#, line: 3),
        ])
    }

    @Test func lineManyTimesTheLimitIsReportedOnce() throws {
        let scratch = try ScratchDirectory()
        let big = #"{"big":""# + String(repeating: "x", count: 9 << 19) + #""}"#  // 4.5 MiB
        let path = try scratch.file("huge.jsonl", "{\"a\":1}\n" + big + "\n{\"b\":2}\n")
        let records = try readRecords(path, .jsonl, maxRecordBytes: 1 << 20)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.last == .json(#"{"b":2}"#, line: 3))
        #expect(records.count == 3)
        #expect(records.filter(\.isMalformed).map(\.line) == [2])
    }

    @Test func lineOverASmallLimitIsMalformedEvenWhenItFitsInOneChunk() throws {
        let scratch = try ScratchDirectory()
        let long = #"{"long":""# + String(repeating: "y", count: 2000) + #""}"#
        let path = try scratch.file("small-limit.jsonl", "{\"a\":1}\n" + long + "\n{\"b\":2}\n")
        let records = try readRecords(path, .jsonl, maxRecordBytes: 1024)
        #expect(records.count == 3)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.last == .json(#"{"b":2}"#, line: 3))
        #expect(records.dropFirst().first?.isMalformed == true)
    }

    @Test func jsonLinesAcrossChunkBoundariesKeepEveryRecordAndLine() throws {
        let scratch = try ScratchDirectory()
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
        let records = try readRecords(try scratch.file("large.jsonl", text), .jsonl)
        expectSameRecords(records, expected)
    }

    @Test(arguments: [InputFormat.jsonl, .json, .csv])
    func returningFalseStopsTheReader(format: InputFormat) throws {
        let scratch = try ScratchDirectory()
        let text = switch format {
        case .jsonl: "{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n"
        case .json: "[{\"i\":1},{\"i\":2},{\"i\":3},{\"i\":4}]"
        case .csv: "i\n1\n2\n3\n4\n"
        }
        let path = try scratch.file("stop.\(format.rawValue)", text)
        let records = try readRecords(path, format, limit: 2)
        #expect(records.count == 2)
        #expect(records.map(\.line) == (format == .json ? [1, 1] : [1, 2]))
    }

    // MARK: JSON documents

    @Test func singleJSONObjectIsOneRecordAtItsFirstLine() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("one.json", "\u{FEFF}\n  \n {\"b\":[1,2],\n \"a\":\"]\"}\n")
        let records = try readRecords(path, .json)
        #expect(records.count == 1)
        guard case .json(let text, let line)? = records.first else {
            Issue.record("expected one JSON record, got \(records)")
            return
        }
        #expect(line == 3)
        #expect(try JSONValue(parsing: text) == ["a": "]", "b": [1, 2]])
    }

    @Test func jsonArrayIsSplitIntoElementsAtTheirStartLines() throws {
        let scratch = try ScratchDirectory()
        let elements = [
            #"{"a":1}"#,
            #"{"b":"x]y,z\"}","c":[1,[2,{"d":"]"}]],"e":{"f":"["}}"#,
            #"{"g":"\\"}"#,
            "{\n  \"h\": [\n    1\n  ]\n}",
            #"{"i":"\\\""}"#,
        ]
        let text = "\u{FEFF}[\n  " + elements[0] + ",\n  " + elements[1] + " ,\n\n" + elements[2] + "\n,"
            + elements[3] + ",\n" + elements[4] + "\n]\n"
        let records = try readRecords(try scratch.file("array.json", text), .json)
        #expect(records == [
            .json(elements[0], line: 2),
            .json(elements[1], line: 3),
            .json(elements[2], line: 5),
            .json(elements[3], line: 6),
            .json(elements[4], line: 11),
        ])
        for record in records {
            if case .json(let text, _) = record { #expect(throws: Never.self) { _ = try JSONValue(parsing: text) } }
        }
    }

    @Test func jsonArrayOfScalarsAndArrays() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("scalars.json", #"[1,"two,]",[3,[4]],null,{}]"#)
        #expect(try readRecords(path, .json) == [
            .json("1", line: 1), .json(#""two,]""#, line: 1), .json("[3,[4]]", line: 1),
            .json("null", line: 1), .json("{}", line: 1),
        ])
    }

    @Test(arguments: ["", "  \n\t\n", "[]", "[ \n ]\n", "\u{FEFF}[]"])
    func emptyJSONDocumentHasNoRecords(text: String) throws {
        let scratch = try ScratchDirectory()
        #expect(try readRecords(try scratch.file("empty.json", text), .json) == [])
    }

    @Test func unterminatedJSONArrayEndsWithAMalformedRecord() throws {
        let scratch = try ScratchDirectory()
        let notClosed = "the JSON array is not closed (missing ']')"
        #expect(try readRecords(try scratch.file("a.json", "[{\"a\":1},\n{\"b\":2}"), .json) == [
            .json(#"{"a":1}"#, line: 1), .json(#"{"b":2}"#, line: 2), .malformed(notClosed, raw: "", line: 2),
        ])
        #expect(try readRecords(try scratch.file("b.json", "[{\"a\":1},\n"), .json) == [
            .json(#"{"a":1}"#, line: 1), .malformed(notClosed, raw: "", line: 2),
        ])
        #expect(try readRecords(try scratch.file("c.json", "[{\"a\":[1,"), .json) == [
            .json(#"{"a":[1,"#, line: 1), .malformed(notClosed, raw: "", line: 1),
        ])
    }

    @Test func missingCommaBetweenArrayElementsIsMalformed() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("comma.json", "[{\"a\":1}\n{\"b\":2}]")
        #expect(try readRecords(path, .json) == [
            .json(#"{"a":1}"#, line: 1),
            .malformed("expected ',' or ']' between array elements at line 2", raw: "", line: 2),
        ])
    }

    @Test func contentAfterTheClosingBracketIsReported() throws {
        let scratch = try ScratchDirectory()
        let records = try readRecords(try scratch.file("after.json", "[{\"a\":1}]\n{\"b\":2}\n"), .json)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.count == 2)
        #expect(records.last?.isMalformed == true)
    }

    @Test func jsonArrayAcrossChunkBoundariesKeepsEveryElementAndLine() throws {
        let scratch = try ScratchDirectory()
        let count = 40_000
        let elements = (0..<count).map(largeRecordJSON)
        let text = "[\n" + elements.joined(separator: ",\n") + "\n]\n"
        #expect(text.utf8.count > 3 << 20)
        let records = try readRecords(try scratch.file("large.json", text), .json)
        expectSameRecords(records, elements.enumerated().map { .json($1, line: $0 + 2) })
        guard case .json(let last, _)? = records.last else { return }
        #expect(try JSONValue(parsing: last)["i"] == .integer(Int64(count - 1)))
        #expect(try JSONValue(parsing: last)["s"] == #"a],b[{c}"d\"#)
    }

    // MARK: CSV

    @Test func csvRowsBecomeStringRecordsWithoutEmptyCells() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("p.csv", "name,email,age\nAnn,ann@example.com,31\nBob,,\n")
        #expect(try readRecords(path, .csv) == [
            .value(["name": "Ann", "email": "ann@example.com", "age": "31"], line: 1),
            .value(["name": "Bob"], line: 2),
        ])
    }

    @Test func quotedCSVFieldsHoldCommasQuotesAndNewlines() throws {
        let scratch = try ScratchDirectory()
        let text = "name,note\n\"Smith, Ann\",\"said \"\"hi\"\"\"\n\"multi\nline\",x\nlast,\"\"\n\"\"\"\",\",\"\n"
        #expect(try readRecords(try scratch.file("q.csv", text), .csv) == [
            .value(["name": "Smith, Ann", "note": #"said "hi""#], line: 1),
            .value(["name": "multi\nline", "note": "x"], line: 2),
            .value(["name": "last"], line: 3),
            .value(["name": "\"", "note": ","], line: 4),
        ])
    }

    @Test func csvWithCRLFBlankLinesAndByteOrderMark() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("crlf.csv", "\u{FEFF}id,name\r\n7,Ann\r\n\r\n\n8,Bob\r\n")
        #expect(try readRecords(path, .csv) == [
            .value(["id": "7", "name": "Ann"], line: 1),
            .value(["id": "8", "name": "Bob"], line: 2),
        ])
    }

    @Test func quotedLastCellInACRLFFileDropsTheCarriageReturn() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("quoted-crlf.csv", "\"id\",\"name\"\r\n\"7\",\"Ann\"\r\n")
        let records = try readRecords(path, .csv)
        #expect(records == [.value(["id": "7", "name": "Ann"], line: 1)])
    }

    @Test func csvReadsTheLastRowWithoutANewline() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("tail.csv", "a,b\n1,2\n3,\"4\"")
        #expect(try readRecords(path, .csv) == [
            .value(["a": "1", "b": "2"], line: 1),
            .value(["a": "3", "b": "4"], line: 2),
        ])
    }

    @Test func csvHeaderIsTrimmedButCellsAreNot() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("trim.csv", " id ,\tname\t,,note\n  1 ,x,skipped,\n")
        #expect(try readRecords(path, .csv) == [.value(["id": "  1 ", "name": "x"], line: 1)])
    }

    @Test func shortCSVRowLeavesTrailingColumnsAbsent() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("short.csv", "a,b,c\n1\n1,2\n")
        #expect(try readRecords(path, .csv) == [.value(["a": "1"], line: 1), .value(["a": "1", "b": "2"], line: 2)])
    }

    @Test func csvRowWithTooManyCellsIsMalformedAndReadingGoesOn() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("many.csv", "a,b\n1,2,3\n4,5\n")
        #expect(try readRecords(path, .csv) == [
            .malformed("row has 3 cells but the header has 2", raw: "1,2,3", line: 1),
            .value(["a": "4", "b": "5"], line: 2),
        ])
    }

    @Test func csvRowWithInvalidUTF8IsMalformedAndReadingGoesOn() throws {
        let scratch = try ScratchDirectory()
        let bytes = Array("a,b\nx,".utf8) + [0xC0, 0xAF] + Array("\ny,z\n".utf8)
        #expect(try readRecords(try scratch.file("latin.csv", bytes), .csv) == [
            .malformed("row is not valid UTF-8; save the file as UTF-8", raw: "x,\u{FFFD}\u{FFFD}", line: 1),
            .value(["a": "y", "b": "z"], line: 2),
        ])
    }

    @Test func csvHeaderWithInvalidUTF8IsAnInputError() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("bad-header.csv", Array("a,".utf8) + [0xE9] + Array("\n1,2\n".utf8))
        let error = #expect(throws: InputError.self) { _ = try readRecords(path, .csv) }
        #expect(error?.description == "\(path):1: the CSV header row is not valid UTF-8; save the file as UTF-8")
    }

    @Test(arguments: ["", "a,b\n", "a,b", "\n\na,b\r\n\r\n"])
    func csvWithoutDataRowsHasNoRecords(text: String) throws {
        let scratch = try ScratchDirectory()
        #expect(try readRecords(try scratch.file("none.csv", text), .csv) == [])
    }

    /// The row with the stray quote fails alone; reading resumes on the line after the quote.
    @Test func unclosedCSVQuoteFailsItsRowAndReadingResumesOnTheNextLine() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("open.csv", "a,b\n1,2\n3,\"open\nstill open\n")
        #expect(try readRecords(path, .csv) == [
            .value(["a": "1", "b": "2"], line: 1),
            .malformed("a quoted CSV field is not closed (the quote opens on file line 3)", raw: "3,\"open", line: 2),
            .value(["a": "still open"], line: 3),
        ])
    }

    /// A stray quote that closes on a later row's quote shifts that row's cells; the bad row is
    /// found by its cell count and reading resumes after the stray quote's line.
    @Test func strayQuoteClosedByALaterQuoteIsFoundAndTheRowsBetweenAreRead() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("stray.csv", "name,note\n\"Smith, J,a\nAnn,b\nBob,\"c, d\"\nCy,e\n")
        #expect(try readRecords(path, .csv) == [
            .malformed("a quoted CSV field is not closed (the quote opens on file line 2)", raw: "\"Smith, J,a", line: 1),
            .value(["name": "Ann", "note": "b"], line: 2),
            .value(["name": "Bob", "note": "c, d"], line: 3),
            .value(["name": "Cy", "note": "e"], line: 4),
        ])
    }

    /// The quote never closed is the one that fails, not an earlier multi-line field of its row.
    @Test func unclosedQuoteAfterAMultilineFieldResumesAfterTheUnclosedOne() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("both.csv", "a,b,c\n1,\"x\ny\",\"open\n2,q,r\n")
        #expect(try readRecords(path, .csv) == [
            .malformed("a quoted CSV field is not closed (the quote opens on file line 3)", raw: "1,\"x\ny\",\"open", line: 1),
            .value(["a": "2", "b": "q", "c": "r"], line: 2),
        ])
    }

    @Test func legitimateMultilineFieldsAreNotMistakenForStrayQuotes() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("multi.csv", "name,note\r\nAnn,\"two\r\nlines\"\r\nBob,\"x\"\r\n")
        #expect(try readRecords(path, .csv) == [
            .value(["name": "Ann", "note": "two\r\nlines"], line: 1),
            .value(["name": "Bob", "note": "x"], line: 2),
        ])
    }

    @Test func unclosedQuoteOverTheSizeLimitFailsItsRowOnlyAcrossChunks() throws {
        let scratch = try ScratchDirectory()
        var text = "id,note\n1,\"never closed\n"
        for i in 2...40_000 { text += "\(i),row \(i)\n" }
        let records = try readRecords(try scratch.file("big-open.csv", text), .csv, maxRecordBytes: 64 << 10)
        #expect(records.count == 40_000)
        #expect(records.first == .malformed("a quoted CSV field is not closed (the quote opens on file line 2)", raw: "1,\"never closed", line: 1))
        #expect(records.last == .value(["id": "40000", "note": "row 40000"], line: 40_000))
        #expect(records.filter(\.isMalformed).count == 1)
    }

    @Test func bareCarriageReturnEndsARowAndCRLFIsOneLineEnd() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("mac.csv", "a,b\r1,2\r\n3,\"x\ry\"\r\r4,\"z\"")
        #expect(try readRecords(path, .csv) == [
            .value(["a": "1", "b": "2"], line: 1),
            .value(["a": "3", "b": "x\ry"], line: 2),
            .value(["a": "4", "b": "z"], line: 3),
        ])
    }

    @Test(arguments: [(UInt8(ascii: ";"), ";"), (0x09, "\t"), (UInt8(ascii: "|"), "|")])
    func delimiterSeparatesFieldsAndQuotesStillProtectIt(delimiter: UInt8, separator: String) throws {
        let scratch = try ScratchDirectory()
        let text = ["id", "name", "note"].joined(separator: separator) + "\n"
            + ["1", "\"Smith\(separator) J\"", "a,b"].joined(separator: separator) + "\n"
        let reader = try RecordReader(path: try scratch.file("d.csv", text), format: .csv, delimiter: delimiter, warn: ignoreWarnings)
        var records: [JSONValue] = []
        try reader.forEach { body, _ in
            if case .value(let value) = body { records.append(value) }
            return true
        }
        #expect(records == [["id": "1", "name": .string("Smith\(separator) J"), "note": "a,b"]])
    }

    @Test(arguments: [("tab", UInt8(0x09)), ("\\t", 0x09), ("\t", 0x09), (";", UInt8(ascii: ";")), ("|", UInt8(ascii: "|"))])
    func delimiterNames(text: String, byte: UInt8) throws {
        #expect(try RecordReader.delimiter(named: text) == byte)
    }

    @Test(arguments: ["", ";;", "\"", "\n", "é"])
    func delimiterThatIsNotOneCharacterIsRefused(text: String) throws {
        #expect(throws: InputError.self) { try RecordReader.delimiter(named: text) }
    }

    @Test func duplicateHeaderNamesAreAnInputErrorNamingBothColumns() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("dup.csv", "id, email ,,name,,email\n1,a@x.io,,Ann,,b@x.io\n")
        let error = #expect(throws: InputError.self) { _ = try readRecords(path, .csv) }
        #expect(error?.description
            == "\(path):1: the CSV header names column 2 and column 6 both 'email'; rename one so no column is lost")
    }

    @Test func oneColumnHeaderHoldingASemicolonWarnsOnceAndReadingGoesOn() throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("semi.csv", "email;name\na@x.io;Ann\n")
        var warnings: [String] = []
        let reader = try RecordReader(path: path, format: .csv, warn: { warnings.append($0) })
        var count = 0
        try reader.forEach { _, _ in count += 1; return true }
        #expect(count == 1)
        #expect(warnings == [
            "\(path):1: warning: the CSV header is one column holding ';'; if the file is separated by it, pass --delimiter ';'",
        ])
    }

    @Test func csvAcrossChunkBoundariesKeepsEveryRowAndItsNumber() throws {
        let scratch = try ScratchDirectory()
        let count = 45_000
        func note(_ i: Int) -> String { "note \(i), \"quoted\"\n" + String(repeating: "n", count: i % 37) }
        var text = "id,note,pad\n"
        for i in 1...count {
            let escaped = note(i).replacingOccurrences(of: "\"", with: "\"\"")
            text += "\(i),\"\(escaped)\",\(String(repeating: "p", count: 20 + i % 13))\r\n"
        }
        #expect(text.utf8.count > 3 << 20)
        let records = try readRecords(try scratch.file("large.csv", text), .csv)
        let expected: [ReadRecord] = (1...count).map { i in
            .value(["id": .string("\(i)"), "note": .string(note(i)), "pad": .string(String(repeating: "p", count: 20 + i % 13))], line: i)
        }
        expectSameRecords(records, expected)
    }

    // MARK: JSON records path

    func readPath(_ path: String, _ pointer: String, maxRecordBytes: Int? = nil) throws -> (RecordReader, [ReadRecord]) {
        let reader = try RecordReader(path: path, format: .json, recordsPath: try JSONPointer(parsing: pointer), warn: ignoreWarnings)
        if let maxRecordBytes { reader.maxRecordBytes = maxRecordBytes }
        var records: [ReadRecord] = []
        try reader.forEach { body, n in
            switch body {
            case .json(let bytes): records.append(.json(String(decoding: bytes, as: UTF8.self), line: n))
            case .value(let value): records.append(.value(value, line: n))
            case .malformed(let message, let raw): records.append(.malformed(message, raw: raw, line: n))
            }
            return true
        }
        return (reader, records)
    }

    @Test func recordsPathStreamsTheArrayPastALargeSiblingInBoundedRecords() throws {
        let scratch = try ScratchDirectory()
        let count = 30_000
        // A sibling far larger than the record limit comes first, with brackets inside strings.
        let sibling = "[" + (0..<60_000).map { #"{"x":"]}\"[{","n":\#($0)}"# }.joined(separator: ",") + "]"
        let text = #"{"object":"list","meta":"# + sibling + #", "data" :\#n ["#
            + (0..<count).map(largeRecordJSON).joined(separator: ",\n") + "],\n\"has_more\":false}"
        #expect(text.utf8.count > 4 << 20)
        let (reader, records) = try readPath(try scratch.file("list.json", text), "/data", maxRecordBytes: 64 << 10)
        expectSameRecords(records, (0..<count).map { .json(largeRecordJSON($0), line: $0) })
        #expect(reader.source(7) == "\(reader.displayName):/data/7")
    }

    @Test func emptyRecordsPathIsTheWholeDocumentNumberedByIndex() throws {
        let scratch = try ScratchDirectory()
        let (reader, records) = try readPath(try scratch.file("a.json", "[{\"a\":1},\n{\"b\":2}]"), "")
        #expect(records == [.json(#"{"a":1}"#, line: 0), .json(#"{"b":2}"#, line: 1)])
        #expect(reader.source(1) == "\(reader.displayName):/1")
    }

    @Test(arguments: [
        ("/missing", "matches nothing: the document has no member 'missing'"),
        ("/data/3", "matches nothing: '/data' has 3 elements"),
        ("/data/x", "matches nothing: '/data' is an array and 'x' is not an index"),
        ("/data/01", "matches nothing: '/data' is an array and '01' is not an index"),
        ("/object/x", "matches nothing: '/object' is a string, so it has no 'x'"),
        ("/count", "is a number, not an array; point it at the array of records"),
        ("/data/0", "is an object, not an array; point it at the array of records"),
    ])
    func recordsPathWithoutAnArrayIsAnInputErrorNamingIt(pointer: String, problem: String) throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.file("list.json", #"{"object":"list","count":3,"data":[{"a":1},{"a":2},{"a":3}]}"#)
        let error = #expect(throws: InputError.self) { _ = try readPath(path, pointer) }
        #expect(error?.description == "\(path): the records path '\(pointer)' \(problem)")
    }

    @Test(arguments: [
        ("", []), ("/data", ["data"]), ("/a~1b/~0c/0", ["a/b", "~c", "0"]), ("/", [""]), ("//x", ["", "x"]),
        ("/~01", ["~1"]),
    ])
    func jsonPointerUnescapesAndPrintsBack(text: String, tokens: [String]) throws {
        let pointer = try JSONPointer(parsing: text)
        #expect(pointer.tokens == tokens)
        #expect(pointer.description == text)
    }

    @Test(arguments: ["data", "/a~2", "/a~"])
    func invalidJSONPointerIsRefusedWithAnExample(text: String) throws {
        let error = #expect(throws: InputError.self) { try JSONPointer(parsing: text) }
        #expect(error?.description.hasPrefix("the records path '\(text)'") == true)
    }

    @Test(arguments: [
        (#"{"object":"list","data":[{"id":1},{"id":2}],"has_more":false}"#, "/data", 2),
        (#"{"a/b":[{}],"tags":["x"],"n":{"deep":[{"id":1}]}}"#, "/a~1b", 1),
        (#"{"a":[{"id":1}],"b":[{"id":2}]}"#, nil, 0),
        (#"{"a":[{"id":1}, 2]}"#, nil, 0),
        (#"{"a":[]}"#, nil, 0),
        (#"{"email":"a@x.io"}"#, nil, 0),
    ] as [(String, String?, Int)])
    func singleObjectHoldingOneArrayOfObjectsSuggestsItsPath(text: String, pointer: String?, count: Int) throws {
        let scratch = try ScratchDirectory()
        let reader = try RecordReader(path: try scratch.file("one.json", text), format: .json, warn: ignoreWarnings)
        try reader.forEach { _, _ in true }
        #expect(reader.suggestedRecordsPath?.pointer == pointer)
        if pointer != nil { #expect(reader.suggestedRecordsPath?.count == count) }
    }
}
