import Foundation
import JSONKit
import TestSupport
import Testing

@testable import RecordSources

/// `JSONArrayReader`: one object, an array of records, or the array at a records path.
@Suite struct JSONArrayReaderTests {
    @Test func singleJSONObjectIsOneRecordAtItsFirstLine() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("one.json", "\u{FEFF}\n  \n {\"b\":[1,2],\n \"a\":\"]\"}\n")
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
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let elements = [
            #"{"a":1}"#,
            #"{"b":"x]y,z\"}","c":[1,[2,{"d":"]"}]],"e":{"f":"["}}"#,
            #"{"g":"\\"}"#,
            "{\n  \"h\": [\n    1\n  ]\n}",
            #"{"i":"\\\""}"#,
        ]
        let text =
            "\u{FEFF}[\n  " + elements[0] + ",\n  " + elements[1] + " ,\n\n" + elements[2] + "\n,"
            + elements[3] + ",\n" + elements[4] + "\n]\n"
        let records = try readRecords(try scratch.write("array.json", text), .json)
        #expect(
            records == [
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
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("scalars.json", #"[1,"two,]",[3,[4]],null,{}]"#)
        #expect(
            try readRecords(path, .json) == [
                .json("1", line: 1), .json(#""two,]""#, line: 1), .json("[3,[4]]", line: 1),
                .json("null", line: 1), .json("{}", line: 1),
            ])
    }

    @Test(arguments: ["", "  \n\t\n", "[]", "[ \n ]\n", "\u{FEFF}[]"])
    func emptyJSONDocumentHasNoRecords(text: String) throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        #expect(try readRecords(try scratch.write("empty.json", text), .json) == [])
    }

    @Test func unterminatedJSONArrayEndsWithAMalformedRecord() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let notClosed = "the JSON array is not closed (missing ']')"
        #expect(
            try readRecords(try scratch.write("a.json", "[{\"a\":1},\n{\"b\":2}"), .json) == [
                .json(#"{"a":1}"#, line: 1), .json(#"{"b":2}"#, line: 2), .malformed(notClosed, raw: "", line: 2),
            ])
        #expect(
            try readRecords(try scratch.write("b.json", "[{\"a\":1},\n"), .json) == [
                .json(#"{"a":1}"#, line: 1), .malformed(notClosed, raw: "", line: 2),
            ])
        #expect(
            try readRecords(try scratch.write("c.json", "[{\"a\":[1,"), .json) == [
                .json(#"{"a":[1,"#, line: 1), .malformed(notClosed, raw: "", line: 1),
            ])
    }

    @Test func missingCommaBetweenArrayElementsIsMalformed() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("comma.json", "[{\"a\":1}\n{\"b\":2}]")
        #expect(
            try readRecords(path, .json) == [
                .json(#"{"a":1}"#, line: 1),
                .malformed("expected ',' or ']' between array elements at line 2", raw: "", line: 2),
            ])
    }

    @Test func contentAfterTheClosingBracketIsReported() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let records = try readRecords(try scratch.write("after.json", "[{\"a\":1}]\n{\"b\":2}\n"), .json)
        #expect(records.first == .json(#"{"a":1}"#, line: 1))
        #expect(records.count == 2)
        #expect(records.last?.isMalformed == true)
    }

    @Test func jsonArrayAcrossChunkBoundariesKeepsEveryElementAndLine() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let count = 40_000
        let elements = (0..<count).map(largeRecordJSON)
        let text = "[\n" + elements.joined(separator: ",\n") + "\n]\n"
        #expect(text.utf8.count > 3 << 20)
        let records = try readRecords(try scratch.write("large.json", text), .json)
        expectSameRecords(records, elements.enumerated().map { .json($1, line: $0 + 2) })
        guard case .json(let last, _)? = records.last else { return }
        #expect(try JSONValue(parsing: last)["i"] == .integer(Int64(count - 1)))
        #expect(try JSONValue(parsing: last)["s"] == #"a],b[{c}"d\"#)
    }

    // MARK: Records path

    func readPath(_ path: String, _ pointer: String, maxRecordBytes: Int? = nil) throws -> (RecordReader, [ReadRecord])
    {
        let reader = try RecordReader(
            path: path, format: .json, recordsPath: try JSONPointer(parsing: pointer), warn: ignoreWarnings)
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
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let count = 30_000
        // A sibling far larger than the record limit comes first, with brackets inside strings.
        let sibling = "[" + (0..<60_000).map { #"{"x":"]}\"[{","n":\#($0)}"# }.joined(separator: ",") + "]"
        let text =
            #"{"object":"list","meta":"# + sibling + #", "data" :\#n ["#
            + (0..<count).map(largeRecordJSON).joined(separator: ",\n") + "],\n\"has_more\":false}"
        #expect(text.utf8.count > 4 << 20)
        let (reader, records) = try readPath(try scratch.write("list.json", text), "/data", maxRecordBytes: 64 << 10)
        expectSameRecords(records, (0..<count).map { .json(largeRecordJSON($0), line: $0) })
        #expect(reader.source(7) == "\(reader.displayName):/data/7")
    }

    @Test func emptyRecordsPathIsTheWholeDocumentNumberedByIndex() throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let (reader, records) = try readPath(try scratch.write("a.json", "[{\"a\":1},\n{\"b\":2}]"), "")
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
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let path = try scratch.write("list.json", #"{"object":"list","count":3,"data":[{"a":1},{"a":2},{"a":3}]}"#)
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

    @Test(
        arguments: [
            (#"{"object":"list","data":[{"id":1},{"id":2}],"has_more":false}"#, "/data", 2),
            (#"{"a/b":[{}],"tags":["x"],"n":{"deep":[{"id":1}]}}"#, "/a~1b", 1),
            (#"{"a":[{"id":1}],"b":[{"id":2}]}"#, nil, 0),
            (#"{"a":[{"id":1}, 2]}"#, nil, 0),
            (#"{"a":[]}"#, nil, 0),
            (#"{"email":"a@x.io"}"#, nil, 0),
        ] as [(String, String?, Int)])
    func singleObjectHoldingOneArrayOfObjectsSuggestsItsPath(text: String, pointer: String?, count: Int) throws {
        let scratch = try TemporaryDirectory(prefix: "records")
        defer { scratch.cleanup() }
        let reader = try RecordReader(path: try scratch.write("one.json", text), format: .json, warn: ignoreWarnings)
        try reader.forEach { _, _ in true }
        #expect(reader.suggestedRecordsPath?.pointer == pointer)
        if pointer != nil { #expect(reader.suggestedRecordsPath?.count == count) }
    }
}
