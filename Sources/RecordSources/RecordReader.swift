import JSONKit

#if canImport(Glibc)
import Glibc
#endif

/// Streams the records of one input.
package final class RecordReader {
    package let path: String
    package let format: InputFormat
    /// Name used in `ctx.source` (`signups.jsonl:42`; `stdin:3`).
    package let displayName: String
    /// The byte between CSV fields (`,` unless `--delimiter` says otherwise).
    package let delimiter: UInt8
    /// With `--records-path`: the array in a `.json` document whose elements are the records.
    package let recordsPath: JSONPointer?
    /// `source(_:)` up to the number: `in.jsonl:` or `customers.json:/data/`.
    private let sourcePrefix: String
    let file: ChunkedFile
    /// Records larger than this are reported as malformed instead of buffered.
    package var maxRecordBytes = 16 << 20
    static let chunkSize = 1 << 20
    /// Where warnings about the input go (one line each, already formatted).
    package let warn: (String) -> Void
    /// After reading a `.json` file that is one object holding exactly one array of objects (a
    /// list response saved whole): the pointer to that array, for a `--records-path` hint, and
    /// how many objects it holds.
    package private(set) var suggestedRecordsPath: (pointer: String, count: Int)?

    /// `warn` receives each warning about the input (a CSV header that looks like another delimiter).
    package init(
        path: String, format: InputFormat, delimiter: UInt8 = UInt8(ascii: ","), recordsPath: JSONPointer? = nil,
        warn: @escaping (String) -> Void
    ) throws(InputError) {
        self.path = path
        self.warn = warn
        self.format = format
        self.delimiter = delimiter
        self.recordsPath = recordsPath
        let displayName = path == "-" ? "stdin" : path
        self.displayName = displayName
        sourcePrefix = recordsPath.map { "\(displayName):\($0)/" } ?? displayName + ":"
        file = try ChunkedFile(path: path)
    }

    /// A reader for one input of a run.
    package convenience init(spec: InputSpec, warn: @escaping (String) -> Void) throws(InputError) {
        try self.init(
            path: spec.path, format: spec.format, delimiter: spec.delimiter, recordsPath: spec.recordsPath, warn: warn)
    }

    /// Bytes read so far and the file size (nil for pipes), for progress and ETA.
    package var progress: (read: Int, total: Int?) { (file.bytesRead, file.size) }

    /// `ctx.source` of the record `forEach` numbered `n`: `in.jsonl:42`, or with a records path
    /// `customers.json:/data/3`.
    package func source(_ n: Int) -> String {
        // Once per record: the prefix (made once) and the number's digits written straight into
        // one new string, instead of a copy of the prefix grown to take the number.
        var number = String(n)  // a small string: no allocation
        var prefix = sourcePrefix
        return prefix.withUTF8 { head in
            number.withUTF8 { digits in
                String(unsafeUninitializedCapacity: head.count + digits.count) { out in
                    _ = out.initialize(from: head)
                    _ = UnsafeMutableBufferPointer(rebasing: out[head.count...]).initialize(from: digits)
                    return head.count + digits.count
                }
            }
        }
    }

    /// Calls `body(record, n)` for each record in order until it returns false. `n` is the line
    /// (JSON lines, JSON), the data row (CSV) or the index in the records path; see `source(_:)`.
    package func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        var source: any RecordSource =
            switch format {
            case .jsonl: JSONLinesReader(file: file, maxRecordBytes: maxRecordBytes)
            case .json:
                JSONArrayReader(
                    file: file, displayName: displayName, maxRecordBytes: maxRecordBytes, recordsPath: recordsPath)
            case .csv:
                CSVReader(
                    file: file, displayName: displayName, delimiter: delimiter, maxRecordBytes: maxRecordBytes,
                    warn: warn)
            }
        defer { suggestedRecordsPath = (source as? JSONArrayReader)?.suggestedRecordsPath }
        try source.forEach(body)
    }

    /// The byte `--delimiter` names: one ASCII character, or `tab` / `\t`.
    package static func delimiter(named text: String) throws(InputError) -> UInt8 {
        switch text {
        case "tab", "\\t", "\t": return 0x09
        default:
            guard text.utf8.count == 1, let byte = text.utf8.first, byte >= 0x20, byte < 0x7F,
                byte != 0x22, byte != 0x0A, byte != 0x0D
            else {
                throw InputError("--delimiter must be one character such as ';' or '|', or tab (got '\(text)')")
            }
            return byte
        }
    }
}
