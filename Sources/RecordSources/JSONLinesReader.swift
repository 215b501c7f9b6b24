#if canImport(Glibc)
import Glibc
#endif

/// JSON lines (`.jsonl`, `.ndjson`): one record per line, numbered by physical line. Blank lines
/// are skipped, a CR before the LF and a byte order mark are dropped, and a line longer than
/// `maxRecordBytes` is reported once and skipped without being buffered. The hot path of `run`:
/// lines are found with `memchr` and handed on as raw bytes, never copied.
struct JSONLinesReader: RecordSource {
    let file: ChunkedFile
    let maxRecordBytes: Int

    mutating func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        var buffer: [UInt8] = []
        var start = 0
        var line = 0
        var eof = false
        var skippingOversize = false
        while true {
            // Find complete lines in buffer[start...].
            let stop: Bool = try buffer.withUnsafeBytes { raw -> Bool in
                let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                while start < raw.count {
                    let remaining = raw.count - start
                    guard let nl = memchr(base + start, 0x0A, remaining) else { break }
                    let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    line += 1
                    if skippingOversize {
                        // The tail of a line already reported as oversized.
                        skippingOversize = false
                    } else if end - start > maxRecordBytes {
                        let preview = String(
                            decoding: UnsafeRawBufferPointer(start: base + start, count: 80), as: UTF8.self)
                        if try !body(
                            .malformed(
                                message: "line is longer than \(sizeText(maxRecordBytes)); split the record",
                                raw: preview + "…"), line)
                        {
                            return true
                        }
                    } else if try !emitLine(
                        UnsafeRawBufferPointer(start: base + start, count: end - start), line: line, body)
                    {
                        return true
                    }
                    start = end + 1
                }
                return false
            }
            if stop { return }
            if eof {
                if start < buffer.count {
                    line += 1
                    if !skippingOversize && buffer.count - start > maxRecordBytes {
                        let preview = String(decoding: buffer[start..<(start + 80)], as: UTF8.self)
                        _ = try body(
                            .malformed(
                                message: "line is longer than \(sizeText(maxRecordBytes)); split the record",
                                raw: preview + "…"), line)
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
                if !(try body(
                    .malformed(
                        message: "line is longer than \(sizeText(maxRecordBytes)); split the record", raw: preview + "…"
                    ), line + 1))
                {
                    return
                }
                buffer.removeAll(keepingCapacity: true)
                skippingOversize = true
            } else if skippingOversize {
                buffer.removeAll(keepingCapacity: true)
            }
            if try file.read(into: &buffer, count: RecordReader.chunkSize) == 0 { eof = true }
        }
    }

    private func emitLine(_ bytes: UnsafeRawBufferPointer, line: Int, _ body: (InputRecordBody, Int) throws -> Bool)
        throws -> Bool
    {
        var slice = bytes
        if line == 1, slice.count >= 3, slice[0] == 0xEF, slice[1] == 0xBB, slice[2] == 0xBF {
            slice = UnsafeRawBufferPointer(rebasing: slice[3...])
        }
        if let last = slice.last, last == 0x0D { slice = UnsafeRawBufferPointer(rebasing: slice.dropLast()) }
        if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return true }
        return try body(.json(slice), line)
    }
}
