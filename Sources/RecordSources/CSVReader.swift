import JSONKit
import SystemKit

/// CSV input: RFC 4180 with the dialects exports actually use.
///
/// - A header row names the columns; every value is a string; empty cells are absent.
/// - Fields are separated by `delimiter` (`,` by default; `;` and tab via `--delimiter`).
/// - Quotes surround fields that hold the delimiter, quotes (doubled) or line breaks.
/// - A line ends at LF, CRLF or a bare CR (old Mac and Excel exports).
/// - A quote that is never closed fails its own row only: reading picks up again at the line
///   after the one where the quote opened, so one stray `"` cannot swallow the rows after it.
///
/// Hand-written (not SwiftCSV or CSV.swift) because it streams over the same chunked reader with
/// record numbers for `ctx.source`, which those libraries do not offer.
struct CSVReader: RecordSource {
    let file: ChunkedFile
    let displayName: String
    let delimiter: UInt8
    let maxRecordBytes: Int
    let warn: (String) -> Void

    private var buffer: [UInt8] = []
    private var position = 0
    /// Where the row being parsed starts; bytes before it may be dropped, bytes after it are kept
    /// so a row with a bad quote can be read again from the line after the quote.
    private var rowStart = 0
    private var eof = false
    /// Physical line (1-based) at `position`.
    private var line = 1

    init(
        file: ChunkedFile, displayName: String, delimiter: UInt8, maxRecordBytes: Int, warn: @escaping (String) -> Void
    ) {
        self.file = file
        self.displayName = displayName
        self.delimiter = delimiter
        self.maxRecordBytes = maxRecordBytes
        self.warn = warn
    }

    /// One row as parsed, before it meets the header.
    private enum Row {
        case fields([[UInt8]], line: Int)
        /// A row that cannot be read as fields; its raw text is kept for the dead-letter entry.
        case malformed(message: String, raw: String)
        case end
    }

    /// Calls `body(record, n)` for each data row (n counts data rows from 1) until it returns false.
    mutating func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        _ = try fill()
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
        var header: [String]? = nil
        var dataRow = 0
        while true {
            let row = try nextRow(headerWidth: header?.count)
            let fields: [[UInt8]]
            let rowLine: Int
            switch row {
            case .end:
                return
            case .malformed(let message, let raw):
                guard header != nil else {
                    throw InputError("\(displayName):1: the CSV header row cannot be read (\(message)); fix the header")
                }
                dataRow += 1
                if !(try body(.malformed(message: message, raw: raw), dataRow)) { return }
                continue
            case .fields(let f, let l):
                (fields, rowLine) = (f, l)
            }
            var strings: [String] = []
            var invalid = false
            for f in fields {
                guard let s = String(validating: f, as: UTF8.self) else { invalid = true; break }
                strings.append(s)
            }
            guard let names = header else {
                if invalid {
                    throw InputError(
                        "\(displayName):\(rowLine): the CSV header row is not valid UTF-8; save the file as UTF-8")
                }
                header = try readHeader(strings, line: rowLine)
                continue
            }
            dataRow += 1
            let raw = fields.map { String(decoding: $0, as: UTF8.self) }.joined(
                separator: String(UnicodeScalar(delimiter)))
            let record: InputRecordBody
            if invalid {
                record = .malformed(message: "row is not valid UTF-8; save the file as UTF-8", raw: raw)
            } else if strings.count > names.count {
                record = .malformed(
                    message: "row has \(strings.count) cells but the header has \(names.count)", raw: raw)
            } else {
                var members: [(String, JSONValue)] = []
                for (name, value) in zip(names, strings) where !value.isEmpty && !name.isEmpty {
                    members.append((name, .string(value)))
                }
                record = .value(.object(JSONObject(members)))
            }
            if !(try body(record, dataRow)) { return }
        }
    }

    /// The trimmed column names. Two columns with one name would lose one of them in every record,
    /// so that is an input error; a single column that holds `;` or a tab suggests `--delimiter`.
    private func readHeader(_ cells: [String], line: Int) throws -> [String] {
        let names = cells.map { String($0.trimming(.spacesAndTabs)) }
        var seen: [String: Int] = [:]
        for (i, name) in names.enumerated() where !name.isEmpty {
            if let earlier = seen[name] {
                throw InputError(
                    "\(displayName):\(line): the CSV header names column \(earlier + 1) and column \(i + 1) both "
                        + "'\(name)'; rename one so no column is lost")
            }
            seen[name] = i
        }
        if delimiter == UInt8(ascii: ","), names.count == 1 {
            for (separator, shown, flag) in [(";", ";", "';'"), ("\t", "\\t", "tab"), ("|", "|", "'|'")]
            where names[0].contains(separator) {
                warn(
                    "\(displayName):\(line): warning: the CSV header is one column holding '\(shown)'; "
                        + "if the file is separated by it, pass --delimiter \(flag)")
                break
            }
        }
        return names
    }

    /// Drops bytes before the current row, then appends one chunk; false at end of input.
    private mutating func fill() throws -> Bool {
        if eof { return false }
        if rowStart > 0 {
            buffer.removeFirst(rowStart)
            position -= rowStart
            rowStart = 0
        }
        if try file.read(into: &buffer, count: RecordReader.chunkSize) == 0 {
            eof = true
            return false
        }
        return true
    }

    /// The byte at `position`, reading more input when needed; nil at end of input.
    private mutating func peek() throws -> UInt8? {
        if position >= buffer.count, !(try fill()) { return nil }
        return buffer[position]
    }

    /// Parses the next row that is not blank.
    private mutating func nextRow(headerWidth: Int?) throws -> Row {
        while true {
            rowStart = position
            let rowLine = line
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            var inQuotes = false
            var quotedField = false
            var sawAny = false
            // The first quote of this row that ran past a line end: where a stray quote would
            // have started swallowing lines, and so where reading resumes if the row is bad.
            // Offsets count from `rowStart`, which stays valid when `fill()` moves the buffer.
            var multilineQuote: (offset: Int, line: Int)? = nil
            var quoteStart: (offset: Int, line: Int) = (0, 0)
            var quoteSpansLines = false
            rowLoop: while true {
                guard let b = try peek() else {
                    if inQuotes {
                        return resynchronize(after: quoteStart, message: "a quoted CSV field is not closed")
                    }
                    if sawAny { fields.append(field) }
                    break rowLoop
                }
                position += 1
                sawAny = true
                if inQuotes {
                    if b == 0x22 {
                        let next = try peek()
                        if next == 0x22 {
                            field.append(0x22)
                            position += 1
                        } else {
                            inQuotes = false
                            if quoteSpansLines, let next, next != delimiter, next != 0x0A, next != 0x0D {
                                // A quote that ran over lines and closed on a later row's quote.
                                return resynchronize(after: quoteStart, message: "a quoted CSV field is not closed")
                            }
                        }
                    } else {
                        var endsLine = b == 0x0A
                        if b == 0x0D { endsLine = (try peek()) != 0x0A }
                        if endsLine {
                            line += 1
                            quoteSpansLines = true
                            if multilineQuote == nil { multilineQuote = quoteStart }
                        }
                        field.append(b)
                    }
                } else if b == 0x22 && field.isEmpty && !quotedField {
                    inQuotes = true
                    quotedField = true
                    quoteSpansLines = false
                    quoteStart = (position - 1 - rowStart, line)
                } else if b == delimiter {
                    fields.append(field)
                    field.removeAll(keepingCapacity: true)
                    quotedField = false
                } else if b == 0x0D || b == 0x0A {
                    if b == 0x0D, (try peek()) == 0x0A { position += 1 }
                    line += 1
                    fields.append(field)
                    break rowLoop
                } else {
                    field.append(b)
                }
                if field.count > maxRecordBytes {
                    if inQuotes {
                        return resynchronize(after: quoteStart, message: "a quoted CSV field is not closed")
                    }
                    return try skipOversizedRow(rowLine: rowLine)
                }
            }
            if fields.isEmpty { return .end }
            if fields.count == 1 && fields[0].isEmpty { continue }  // blank line
            if let multilineQuote, let headerWidth, fields.count > headerWidth {
                // A quote that closed on a later row's quote: the cells are shifted, so the quote
                // was stray. Read again from the line after it instead of losing those rows.
                return resynchronize(after: multilineQuote, message: "a quoted CSV field is not closed")
            }
            return .fields(fields, line: rowLine)
        }
    }

    /// Fails the current row up to the end of the line where `quote` opened (`offset` bytes into
    /// the row) and moves there, so the next row is read from the following line.
    private mutating func resynchronize(after quote: (offset: Int, line: Int), message: String) -> Row {
        var end = rowStart + quote.offset
        while end < buffer.count, buffer[end] != 0x0A, buffer[end] != 0x0D { end += 1 }
        let raw = String(decoding: buffer[rowStart..<min(end, rowStart + 64 << 10)], as: UTF8.self)
        position = end
        if position < buffer.count {
            position += buffer[position] == 0x0D && position + 1 < buffer.count && buffer[position + 1] == 0x0A ? 2 : 1
        }
        line = quote.line + 1
        return .malformed(message: "\(message) (the quote opens on file line \(quote.line))", raw: raw)
    }

    /// Fails a row with a field over the size limit and skips to the end of its line.
    private mutating func skipOversizedRow(rowLine: Int) throws -> Row {
        let preview = String(decoding: buffer[rowStart..<min(buffer.count, rowStart + 80)], as: UTF8.self) + "…"
        let message = "CSV field is larger than \(sizeText(maxRecordBytes)) (line \(rowLine))"
        // Drop what was read; discard bytes until the line ends.
        while true {
            while position < buffer.count, buffer[position] != 0x0A, buffer[position] != 0x0D { position += 1 }
            if position < buffer.count { break }
            rowStart = position
            if !(try fill()) { break }
        }
        if position < buffer.count {
            position += buffer[position] == 0x0D && position + 1 < buffer.count && buffer[position + 1] == 0x0A ? 2 : 1
        }
        line = rowLine + 1
        return .malformed(message: message, raw: preview)
    }
}
