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

/// An input that cannot be opened or read at all.
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

/// Streams the records of one input.
public final class RecordReader {
    public let path: String
    public let format: InputFormat
    /// Name used in `ctx.source` (`signups.jsonl:42`; `stdin:3`).
    public let displayName: String
    let file: ChunkedFile
    /// Records larger than this are reported as malformed instead of buffered.
    public var maxRecordBytes = 16 << 20
    static let chunkSize = 1 << 20

    public init(path: String, format: InputFormat) throws(InputError) {
        self.path = path
        self.format = format
        displayName = path == "-" ? "stdin" : path
        file = try ChunkedFile(path: path)
    }

    /// Bytes read so far and the file size (nil for pipes), for progress and ETA.
    public var progress: (read: Int, total: Int?) { (file.bytesRead, file.size) }

    /// Calls `body(record, line)` for each record in order until it returns false.
    public func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        switch format {
        case .jsonl: try readLines(body)
        case .json: try readJSONDocument(body)
        case .csv: try readCSV(body)
        }
    }

    // MARK: JSON lines

    private func readLines(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        var buffer: [UInt8] = []
        var start = 0
        var line = 0
        var eof = false
        var skippingOversize = false
        while true {
            // Find complete lines in buffer[start...].
            var handled = false
            let stop: Bool = try buffer.withUnsafeBytes { raw -> Bool in
                let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                while start < raw.count {
                    let remaining = raw.count - start
                    guard let nl = memchr(base + start, 0x0A, remaining) else { break }
                    let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    line += 1
                    handled = true
                    if skippingOversize {
                        // The tail of a line already reported as oversized.
                        skippingOversize = false
                    } else if end - start > maxRecordBytes {
                        let preview = String(decoding: UnsafeRawBufferPointer(start: base + start, count: 80), as: UTF8.self)
                        if try !body(.malformed(message: "line is longer than \(sizeText(maxRecordBytes)); split the record", raw: preview + "…"), line) {
                            return true
                        }
                    } else if try !emitLine(UnsafeRawBufferPointer(start: base + start, count: end - start), line: line, body) {
                        return true
                    }
                    start = end + 1
                }
                return false
            }
            if stop { return }
            _ = handled
            if eof {
                if start < buffer.count {
                    line += 1
                    if !skippingOversize && buffer.count - start > maxRecordBytes {
                        let preview = String(decoding: buffer[start..<(start + 80)], as: UTF8.self)
                        _ = try body(.malformed(message: "line is longer than \(sizeText(maxRecordBytes)); split the record", raw: preview + "…"), line)
                    } else if !skippingOversize {
                        let ok = try buffer.withUnsafeBytes { raw in
                            try emitLine(UnsafeRawBufferPointer(rebasing: raw[start...]), line: line, body)
                        }
                        if !ok { return }
                    }
                }
                return
            }
            // Keep the partial line, read more.
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            if buffer.count > maxRecordBytes && !skippingOversize {
                // Report the oversized line once, then drop its bytes until its newline.
                let preview = String(decoding: buffer.prefix(80), as: UTF8.self)
                if !(try body(.malformed(message: "line is longer than \(sizeText(maxRecordBytes)); split the record", raw: preview + "…"), line + 1)) { return }
                buffer.removeAll(keepingCapacity: true)
                skippingOversize = true
            } else if skippingOversize {
                buffer.removeAll(keepingCapacity: true)
            }
            if try file.read(into: &buffer, count: Self.chunkSize) == 0 { eof = true }
        }
    }

    private func emitLine(_ bytes: UnsafeRawBufferPointer, line: Int, _ body: (InputRecordBody, Int) throws -> Bool) throws -> Bool {
        var slice = bytes
        if line == 1, slice.count >= 3, slice[0] == 0xEF, slice[1] == 0xBB, slice[2] == 0xBF {
            slice = UnsafeRawBufferPointer(rebasing: slice[3...])
        }
        if let last = slice.last, last == 0x0D { slice = UnsafeRawBufferPointer(rebasing: slice.dropLast()) }
        if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return true }
        return try body(.json(slice), line)
    }

    // MARK: JSON document (one object or an array of objects)

    /// Splits a top-level array into elements without parsing them (a small state machine over
    /// brackets and strings), so a large array streams in bounded memory.
    private func readJSONDocument(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        var buffer: [UInt8] = []
        var eof = false
        var position = 0
        var line = 1
        // Skip BOM and leading white space; find '[' or a single value.
        func fill() throws -> Bool {
            if eof { return false }
            if try file.read(into: &buffer, count: Self.chunkSize) == 0 { eof = true; return false }
            return true
        }
        func skipWhitespace() throws {
            while true {
                while position < buffer.count, [0x20, 0x09, 0x0D, 0x0A].contains(buffer[position]) {
                    if buffer[position] == 0x0A { line += 1 }
                    position += 1
                }
                if position < buffer.count { return }
                if !(try fill()) { return }
            }
        }
        _ = try fill()
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
        try skipWhitespace()
        guard position < buffer.count else { return }
        if buffer[position] != UInt8(ascii: "[") {
            // A single value: read it whole (bounded by maxRecordBytes).
            while try fill() {
                if buffer.count > maxRecordBytes {
                    _ = try body(.malformed(message: "document is larger than \(sizeText(maxRecordBytes)); use JSON lines for large inputs", raw: ""), line)
                    return
                }
            }
            _ = try buffer.withUnsafeBytes { try body(.json(UnsafeRawBufferPointer(rebasing: $0[position...])), line) }
            return
        }
        position += 1
        var expectElement = true
        var sawElement = false
        while true {
            try skipWhitespace()
            guard position < buffer.count else {
                _ = try body(.malformed(message: "the JSON array is not closed (missing ']')", raw: ""), line)
                return
            }
            let c = buffer[position]
            if c == UInt8(ascii: "]") {
                if expectElement && sawElement {
                    _ = try body(.malformed(message: "trailing ',' before ']' in the JSON array", raw: ""), line)
                    return
                }
                position += 1
                try skipWhitespace()
                if position < buffer.count {
                    _ = try body(.malformed(message: "unexpected text after the JSON array at line \(line); a .json file holds one value", raw: ""), line)
                }
                return
            }
            if expectElement && c == UInt8(ascii: ",") {
                _ = try body(.malformed(message: "empty element in the JSON array at line \(line)", raw: ""), line)
                return
            }
            if !expectElement {
                guard c == UInt8(ascii: ",") else {
                    _ = try body(.malformed(message: "expected ',' or ']' between array elements at line \(line)", raw: ""), line)
                    return
                }
                position += 1
                expectElement = true
                continue
            }
            // Scan one element.
            let startLine = line
            let start = position
            var depth = 0
            var inString = false
            var escaped = false
            var i = position
            scan: while true {
                while i < buffer.count {
                    let b = buffer[i]
                    if inString {
                        if escaped { escaped = false }
                        else if b == 0x5C { escaped = true }
                        else if b == 0x22 { inString = false }
                        else if b == 0x0A { line += 1 }
                    } else {
                        switch b {
                        case 0x22: inString = true
                        case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                        case UInt8(ascii: "]"), UInt8(ascii: "}"):
                            if depth == 0 { break scan }
                            depth -= 1
                            if depth == 0 { i += 1; break scan }
                        case UInt8(ascii: ","): if depth == 0 { break scan }
                        case 0x0A: line += 1
                        default: break
                        }
                    }
                    i += 1
                }
                if i - start > maxRecordBytes {
                    _ = try body(.malformed(message: "array element is larger than \(sizeText(maxRecordBytes))", raw: ""), startLine)
                    return
                }
                if !(try fill()) { break }
            }
            let keepGoing = try buffer.withUnsafeBytes { try body(.json(UnsafeRawBufferPointer(rebasing: $0[start..<i])), startLine) }
            if !keepGoing { return }
            position = i
            expectElement = false
            sawElement = true
            if position > Self.chunkSize {
                buffer.removeFirst(position)
                position = 0
            }
        }
    }

    // MARK: CSV

    /// RFC 4180: a header row, comma-separated fields, quotes around fields that hold commas,
    /// quotes or newlines. Every value is a string; empty cells are absent from the record.
    /// Hand-written (not SwiftCSV or CSV.swift) because it streams over the same chunked reader
    /// with line numbers for `ctx.source`, which those libraries do not offer.
    private func readCSV(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        var buffer: [UInt8] = []
        var position = 0
        var eof = false
        var line = 1
        var header: [String]? = nil
        var dataRow = 0
        func fill() throws -> Bool {
            if eof { return false }
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            if try file.read(into: &buffer, count: Self.chunkSize) == 0 { eof = true; return false }
            return true
        }
        _ = try fill()
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
        while true {
            // Parse one row.
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            var inQuotes = false
            var quotedField = false
            let rowLine = line
            var rowDone = false
            var sawAny = false
            while !rowDone {
                if position >= buffer.count {
                    if !(try fill()) {
                        if sawAny || !field.isEmpty || !fields.isEmpty { fields.append(field) }
                        rowDone = true
                        break
                    }
                    continue
                }
                let b = buffer[position]
                position += 1
                sawAny = true
                if inQuotes {
                    if b == 0x22 {
                        if position >= buffer.count { _ = try fill() }
                        if position < buffer.count, buffer[position] == 0x22 {
                            field.append(0x22)
                            position += 1
                        } else {
                            inQuotes = false
                        }
                    } else {
                        if b == 0x0A { line += 1 }
                        field.append(b)
                    }
                } else if b == 0x22 && field.isEmpty && !quotedField {
                    inQuotes = true
                    quotedField = true
                } else if b == UInt8(ascii: ",") {
                    fields.append(field)
                    field.removeAll(keepingCapacity: true)
                    quotedField = false
                } else if b == 0x0D {
                    continue  // CR of a CRLF line end (a CR inside quotes is kept above)
                } else if b == 0x0A {
                    line += 1
                    fields.append(field)
                    rowDone = true
                } else {
                    field.append(b)
                }
                if field.count > maxRecordBytes {
                    _ = try body(.malformed(message: "CSV field is larger than \(sizeText(maxRecordBytes)) (line \(rowLine))", raw: ""), dataRow + 1)
                    return
                }
            }
            if fields.isEmpty { return }
            if fields.count == 1 && fields[0].isEmpty {
                if eof && position >= buffer.count { return }
                continue  // blank line
            }
            if inQuotes {
                _ = try body(.malformed(message: "a quoted CSV field is not closed (it starts at line \(rowLine))", raw: ""), dataRow + 1)
                return
            }
            var strings: [String] = []
            var invalid = false
            for f in fields {
                guard let s = String(validating: f, as: UTF8.self) else { invalid = true; break }
                strings.append(s)
            }
            guard let names = header else {
                if invalid {
                    throw InputError("\(displayName):\(rowLine): the CSV header row is not valid UTF-8; save the file as UTF-8")
                }
                header = strings.map { $0.trimmingASCIIWhitespace() }
                continue
            }
            dataRow += 1
            let raw = fields.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",")
            let record: InputRecordBody
            if invalid {
                record = .malformed(message: "row is not valid UTF-8; save the file as UTF-8", raw: raw)
            } else if strings.count > names.count {
                record = .malformed(message: "row has \(strings.count) cells but the header has \(names.count)", raw: raw)
            } else {
                var members: [(String, JSONValue)] = []
                for (name, value) in zip(names, strings) where !value.isEmpty && !name.isEmpty {
                    members.append((name, .string(value)))
                }
                record = .value(.object(JSONObject(members)))
            }
            if !(try body(record, dataRow)) { return }
            if eof && position >= buffer.count { return }
        }
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
