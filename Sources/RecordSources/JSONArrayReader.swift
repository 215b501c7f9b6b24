import JSONKit

/// A `.json` input: one object (one record), an array of records, or with a records path the
/// array at that JSON pointer. Arrays are split into elements by a small state machine over
/// brackets and strings, without parsing them, so a large array streams in bounded memory; the
/// path to it is walked the same way, skipping what lies before it without keeping it.
struct JSONArrayReader: RecordSource {
    let file: ChunkedFile
    let displayName: String
    let maxRecordBytes: Int
    let recordsPath: JSONPointer?

    private var buffer: [UInt8] = []
    private var position = 0
    private var eof = false
    /// Physical line (1-based) at `position`.
    private var line = 1
    /// For a single object holding exactly one array of objects: that member's pointer and size.
    private(set) var suggestedRecordsPath: (pointer: String, count: Int)?

    init(file: ChunkedFile, displayName: String, maxRecordBytes: Int, recordsPath: JSONPointer?) {
        self.file = file
        self.displayName = displayName
        self.maxRecordBytes = maxRecordBytes
        self.recordsPath = recordsPath
    }

    /// Calls `body(record, n)` per record until it returns false; `n` is the record's first line,
    /// or with a records path its index in the array.
    mutating func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws {
        _ = try fill()
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
        try skipWhitespace()
        if let recordsPath {
            guard position < buffer.count else { throw pathError(recordsPath, "matches nothing (the file is empty)") }
            for (depth, token) in recordsPath.tokens.enumerated() {
                try descend(into: token, at: JSONPointer(tokens: Array(recordsPath.tokens[..<depth])), of: recordsPath)
                try skipWhitespace()
            }
            guard position < buffer.count, buffer[position] == UInt8(ascii: "[") else {
                throw pathError(recordsPath, "is \(kindOfValue()), not an array; point it at the array of records")
            }
            position += 1
            try streamArray(numberedByIndex: true, body)
            return
        }
        guard position < buffer.count else { return }
        if buffer[position] == UInt8(ascii: "[") {
            position += 1
            try streamArray(numberedByIndex: false, body)
            return
        }
        // A single value: read it whole (bounded by maxRecordBytes).
        while try fill() {
            if buffer.count > maxRecordBytes {
                let message = "document is larger than \(sizeText(maxRecordBytes)); use JSON lines for large inputs"
                _ = try body(.malformed(message: message, raw: ""), line)
                return
            }
        }
        try buffer.withUnsafeBytes { raw in
            let document = UnsafeRawBufferPointer(rebasing: raw[position...])
            if document.first == UInt8(ascii: "{") {
                suggestedRecordsPath = TopLevelArrayFinder.onlyArrayOfObjects(in: document)
            }
            _ = try body(.json(document), line)
        }
    }

    // MARK: Reading

    /// Appends one chunk; false at end of input.
    private mutating func fill() throws -> Bool {
        if eof { return false }
        if try file.read(into: &buffer, count: RecordReader.chunkSize) == 0 {
            eof = true
            return false
        }
        return true
    }

    /// Drops the bytes before `position` once they are many.
    private mutating func compact() {
        if position > RecordReader.chunkSize {
            buffer.removeFirst(position)
            position = 0
        }
    }

    private mutating func skipWhitespace() throws {
        while true {
            while position < buffer.count, [0x20, 0x09, 0x0D, 0x0A].contains(buffer[position]) {
                if buffer[position] == 0x0A { line += 1 }
                position += 1
            }
            if position < buffer.count { return }
            if !(try fill()) { return }
        }
    }

    /// Finds the end of the value at `position` (exclusive): after its closing bracket, or for a
    /// scalar at the next `,`, `]` or `}`. Nil when the input ends first, or, with `keep`, when the
    /// value grows past `maxRecordBytes`. Without `keep` the bytes scanned are dropped as it goes,
    /// so skipping a large value takes no memory; `position` then moves to the returned end.
    private mutating func scanValue(keep: Bool) throws -> Int? {
        let start = position
        var depth = 0
        var inString = false
        var escaped = false
        var i = position
        while true {
            while i < buffer.count {
                let b = buffer[i]
                if inString {
                    if escaped {
                        escaped = false
                    } else if b == 0x5C {
                        escaped = true
                    } else if b == 0x22 {
                        inString = false
                    } else if b == 0x0A {
                        line += 1
                    }
                } else {
                    switch b {
                    case 0x22: inString = true
                    case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                    case UInt8(ascii: "]"), UInt8(ascii: "}"):
                        if depth == 0 { return i }
                        depth -= 1
                        if depth == 0 { return i + 1 }
                    case UInt8(ascii: ","): if depth == 0 { return i }
                    case 0x0A: line += 1
                    default: break
                    }
                }
                i += 1
            }
            if keep {
                if i - start > maxRecordBytes { return nil }
            } else {
                buffer.removeAll(keepingCapacity: true)
                i = 0
                position = 0
            }
            if !(try fill()) { return keep || i > 0 ? i : nil }
        }
    }

    /// Finds the end of the string at `position` (after its closing quote), or nil when the input
    /// ends first or the string is longer than `maxRecordBytes`.
    private mutating func scanString() throws -> Int? {
        var escaped = false
        var i = position + 1
        while true {
            while i < buffer.count {
                let b = buffer[i]
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { return i + 1 }
                i += 1
            }
            if i - position > maxRecordBytes { return nil }
            if !(try fill()) { return nil }
        }
    }

    /// Reads the elements of an array whose `[` was just consumed.
    private mutating func streamArray(numberedByIndex: Bool, _ body: (InputRecordBody, Int) throws -> Bool) throws {
        var expectElement = true
        var sawElement = false
        var index = 0
        while true {
            try skipWhitespace()
            let number = numberedByIndex ? index : line
            guard position < buffer.count else {
                _ = try body(.malformed(message: "the JSON array is not closed (missing ']')", raw: ""), number)
                return
            }
            let c = buffer[position]
            if c == UInt8(ascii: "]") {
                if expectElement && sawElement {
                    _ = try body(.malformed(message: "trailing ',' before ']' in the JSON array", raw: ""), number)
                    return
                }
                position += 1
                if recordsPath != nil { return }  // the rest of the document is not records
                try skipWhitespace()
                if position < buffer.count {
                    let message = "unexpected text after the JSON array at line \(line); a .json file holds one value"
                    _ = try body(.malformed(message: message, raw: ""), line)
                }
                return
            }
            if expectElement && c == UInt8(ascii: ",") {
                _ = try body(.malformed(message: "empty element in the JSON array at line \(line)", raw: ""), number)
                return
            }
            if !expectElement {
                guard c == UInt8(ascii: ",") else {
                    _ = try body(
                        .malformed(message: "expected ',' or ']' between array elements at line \(line)", raw: ""),
                        number)
                    return
                }
                position += 1
                expectElement = true
                continue
            }
            let start = position
            guard let end = try scanValue(keep: true) else {
                _ = try body(
                    .malformed(message: "array element is larger than \(sizeText(maxRecordBytes))", raw: ""), number)
                return
            }
            let keepGoing = try buffer.withUnsafeBytes {
                try body(.json(UnsafeRawBufferPointer(rebasing: $0[start..<end])), number)
            }
            if !keepGoing { return }
            position = end
            expectElement = false
            sawElement = true
            index += 1
            compact()
        }
    }

    // MARK: The records path

    private func pathError(_ pointer: JSONPointer, _ problem: String) -> InputError {
        InputError("\(displayName): the records path '\(pointer)' \(problem)")
    }

    /// What the value at `position` is, in words.
    private func kindOfValue() -> String {
        guard position < buffer.count else { return "missing" }
        switch buffer[position] {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }

    /// Moves `position` to the value of member or element `token` of the value at `position`
    /// (which `parent` points to); throws naming `pointer` when there is none.
    private mutating func descend(into token: String, at parent: JSONPointer, of pointer: JSONPointer) throws {
        let where_ = parent.tokens.isEmpty ? "the document" : "'\(parent)'"
        guard position < buffer.count else { throw pathError(pointer, "matches nothing (the document ends early)") }
        switch buffer[position] {
        case UInt8(ascii: "{"):
            position += 1
            while true {
                try skipWhitespace()
                guard position < buffer.count else {
                    throw pathError(pointer, "cannot be followed: the document ends early")
                }
                if buffer[position] == UInt8(ascii: "}") {
                    throw pathError(pointer, "matches nothing: \(where_) has no member '\(token)'")
                }
                guard buffer[position] == 0x22, let keyEnd = try scanString() else {
                    throw pathError(pointer, "cannot be followed: invalid JSON at line \(line)")
                }
                let key = buffer.withUnsafeBytes {
                    try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: $0[position..<keyEnd]))
                }
                position = keyEnd
                try skipWhitespace()
                guard position < buffer.count, buffer[position] == UInt8(ascii: ":"), case .string(let name)? = key
                else {
                    throw pathError(pointer, "cannot be followed: invalid JSON at line \(line)")
                }
                position += 1
                try skipWhitespace()
                compact()
                if JSONObject.sameKey(name, token) { return }
                try skipValueAndSeparator(closing: UInt8(ascii: "}"), pointer: pointer, where_: where_, token: token)
            }
        case UInt8(ascii: "["):
            guard let wanted = JSONPointer.arrayIndex(token) else {
                throw pathError(pointer, "matches nothing: \(where_) is an array and '\(token)' is not an index")
            }
            position += 1
            var index = 0
            while true {
                try skipWhitespace()
                guard position < buffer.count else {
                    throw pathError(pointer, "cannot be followed: the document ends early")
                }
                if buffer[position] == UInt8(ascii: "]") {
                    throw pathError(pointer, "matches nothing: \(where_) has \(index) elements")
                }
                if index == wanted { return }
                try skipValueAndSeparator(closing: UInt8(ascii: "]"), pointer: pointer, where_: where_, token: token)
                index += 1
            }
        default:
            throw pathError(pointer, "matches nothing: \(where_) is \(kindOfValue()), so it has no '\(token)'")
        }
    }

    /// Skips one member value or element and the `,` after it; stops before the closing bracket.
    private mutating func skipValueAndSeparator(closing: UInt8, pointer: JSONPointer, where_: String, token: String)
        throws
    {
        guard let end = try scanValue(keep: false) else {
            throw pathError(pointer, "cannot be followed: the document ends early")
        }
        position = end
        try skipWhitespace()
        guard position < buffer.count else { throw pathError(pointer, "cannot be followed: the document ends early") }
        if buffer[position] == UInt8(ascii: ",") {
            position += 1
        } else if buffer[position] != closing {
            throw pathError(pointer, "cannot be followed: invalid JSON at line \(line)")
        }
        compact()
    }
}
