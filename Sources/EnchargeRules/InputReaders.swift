import JSONKit

#if canImport(Glibc)
import Glibc
#endif

/// The formats `run` reads.
public enum InputFormat: String, Sendable, CaseIterable {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    case jsonl
    /// One JSON object, or an array of objects (`.json`).
    case json
    /// A header row, then one record per row; empty cells are absent (`.csv`).
    case csv

    /// The format a file name implies, or nil.
    public init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { self = .jsonl }
        else if lower.hasSuffix(".json") { self = .json }
        else if lower.hasSuffix(".csv") { self = .csv }
        else { return nil }
    }
}

/// One record an input produced.
public enum InputRecordBody {
    /// Raw JSON bytes, valid only during the callback.
    case json(UnsafeRawBufferPointer)
    /// An already-built record (CSV rows).
    case value(JSONValue)
    /// Input that is not a record, with a message and the raw text for the dead-letter entry.
    case malformed(message: String, raw: String)
}

/// An input that cannot be opened or read at all. The description carries no `error:`: whoever
/// reports it adds that after the input's position (`in.csv:1: error: ...`).
public struct InputError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads a file descriptor in large chunks; the basis of every reader. Memory stays bounded by
/// the chunk size and the longest record.
final class ChunkedFile {
    let fd: Int32
    let ownsDescriptor: Bool
    /// Bytes read so far, for progress.
    private(set) var bytesRead: Int = 0
    let size: Int?

    init(path: String) throws(InputError) {
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            size = nil
            return
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InputError("cannot open \(path): \(String(cString: strerror(errno))); check the input path")
        }
        var info = stat()
        if fstat(descriptor, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR {
                close(descriptor)
                throw InputError("cannot read \(path): it is a directory; give a file")
            }
            size = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        } else {
            size = nil
        }
        fd = descriptor
        ownsDescriptor = true
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Appends up to `count` bytes to `buffer`; returns how many (0 at end of file).
    func read(into buffer: inout [UInt8], count: Int) throws(InputError) -> Int {
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        var n = 0
        while true {
            n = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, count) }
            if n < 0 && errno == EINTR { continue }
            break
        }
        if n < 0 { throw InputError("read error: \(String(cString: strerror(errno)))") }
        if n > 0 { scratch.withUnsafeBytes { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
        bytesRead += n
        return n
    }

    /// Reused read buffer (one chunk).
    private var scratch: [UInt8] = []
}

/// "16 MiB", "1 KiB", "900 bytes": a size limit in words.
func sizeText(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
    return "\(bytes) bytes"
}

/// One way of splitting an input into records: `JSONLinesReader`, `JSONDocumentReader`,
/// `CSVReader`. Each streams over a `ChunkedFile` in bounded memory.
protocol RecordSource {
    /// Calls `body(record, n)` for each record in order until it returns false; what `n` counts
    /// (a line, a data row, an array index) is the source's own, see `RecordReader.source(_:)`.
    mutating func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws
}

/// Streams the records of one input.
public final class RecordReader {
    public let path: String
    public let format: InputFormat
    /// Name used in `ctx.source` (`signups.jsonl:42`; `stdin:3`).
    public let displayName: String
    /// The byte between CSV fields (`,` unless `--delimiter` says otherwise).
    public let delimiter: UInt8
    /// With `--records-path`: the array in a `.json` document whose elements are the records.
    public let recordsPath: JSONPointer?
    let file: ChunkedFile
    /// Records larger than this are reported as malformed instead of buffered.
    public var maxRecordBytes = 16 << 20
    static let chunkSize = 1 << 20
    /// Where warnings about the input go (one line each, already formatted).
    public var warn: (String) -> Void = { Diagnostics.write($0) }
    /// After reading a `.json` file that is one object holding exactly one array of objects (a
    /// list response saved whole): the pointer to that array, for a `--records-path` hint, and
    /// how many objects it holds.
    public private(set) var suggestedRecordsPath: (pointer: String, count: Int)?

    public init(path: String, format: InputFormat, delimiter: UInt8 = UInt8(ascii: ","), recordsPath: JSONPointer? = nil)
        throws(InputError)
    {
        self.path = path
        self.format = format
        self.delimiter = delimiter
        self.recordsPath = recordsPath
        displayName = path == "-" ? "stdin" : path
        file = try ChunkedFile(path: path)
    }

    /// A reader for one input of a run.
    public convenience init(spec: InputSpec) throws(InputError) {
        try self.init(path: spec.path, format: spec.format, delimiter: spec.delimiter, recordsPath: spec.recordsPath)
    }

    /// Bytes read so far and the file size (nil for pipes), for progress and ETA.
    public var progress: (read: Int, total: Int?) { (file.bytesRead, file.size) }

    /// `ctx.source` of the record `forEach` numbered `n`: `in.jsonl:42`, or with a records path
    /// `customers.json:/data/3`.
    public func source(_ n: Int) -> String {
        if let recordsPath { return "\(displayName):\(recordsPath)/\(n)" }
        return "\(displayName):\(n)"
    }

    /// Calls `body(record, n)` for each record in order until it returns false. `n` is the line
    /// (JSON lines, JSON), the data row (CSV) or the index in the records path; see `source(_:)`.
    public func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        switch format {
        case .jsonl:
            var reader = JSONLinesReader(file: file, maxRecordBytes: maxRecordBytes)
            try reader.forEach(body)
        case .json:
            var reader = JSONDocumentReader(
                file: file, displayName: displayName, maxRecordBytes: maxRecordBytes, recordsPath: recordsPath)
            defer { suggestedRecordsPath = reader.suggestedRecordsPath }
            try reader.forEach(body)
        case .csv:
            var reader = CSVReader(
                file: file, displayName: displayName, delimiter: delimiter, maxRecordBytes: maxRecordBytes, warn: warn)
            try reader.forEach(body)
        }
    }

    /// The byte `--delimiter` names: one ASCII character, or `tab` / `\t`.
    public static func delimiter(named text: String) throws(InputError) -> UInt8 {
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

extension String {
    func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
