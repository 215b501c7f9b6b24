import Foundation
import JSONKit
import TestSupport
import Testing

@testable import RecordSources

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
        case .malformed(let message, let raw, let line):
            "malformed(\(message.debugDescription), raw: \(raw.prefix(100).debugDescription)) @\(line)"
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
