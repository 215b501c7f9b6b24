import JSONKit
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What every dead-letter entry of one run carries besides its own facts.
public struct DeadLetterContext: Sendable, Hashable {
    /// SHA-256 of the rules file that produced the entries, lower-case hex; nil when unknown.
    public var rulesSHA256: String?

    public init(rulesSHA256: String? = nil) {
        self.rulesSHA256 = rulesSHA256
    }
}

/// A failure to write or read the dead-letter file.
public struct DeadLetterError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// 1-based line for read errors, nil for file errors.
    public var line: Int?
    public var message: String

    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

/// Appends dead-letter entries, one JSON object per line, to a file. Safe to share between threads;
/// the file is created (or opened for appending) on the first entry, so a clean run leaves none, and
/// each line reaches the file with one `write` before the call returns.
///
/// Event entries: `{"kind":"event","event":{...},"reason":"...","status":429,"body":"...",
/// "attempts":8,"source":"signups.jsonl:42","rules_sha256":"...","at":"2026-11-27T04:12:36.123Z"}`.
/// Record entries: `{"kind":"record","record":...,"error":"rules.lua:14: ...","traceback":"...",
/// "source":"...","rules_sha256":"...","at":"..."}`. Absent optional fields are left out.
public final class DeadLetterWriter: Sendable {
    /// The file entries go to.
    public let path: String
    /// Used by entries written without a context of their own.
    public let context: DeadLetterContext

    private struct FileState {
        var descriptor: Int32 = -1
        var count = 0
    }

    private let file = Mutex(FileState())

    public init(path: String, context: DeadLetterContext = DeadLetterContext()) {
        self.path = path
        self.context = context
    }

    deinit {
        file.withLock { state in
            if state.descriptor >= 0 { close(state.descriptor) }
        }
    }

    /// Entries written by this writer so far.
    public var count: Int { file.withLock { $0.count } }

    /// Records an event that could not be delivered. `reason`, `body` and `source` must already be
    /// free of secrets (the delivery engine redacts the write key before calling this).
    public func writeEventFailure(
        event: Event, reason: String, status: Int? = nil, body: String? = nil, attempts: Int,
        source: String, context: DeadLetterContext? = nil
    ) throws(DeadLetterError) {
        var writer = JSONWriter(capacity: 512)
        writer.writeRaw("{\"kind\":\"event\",\"event\":")
        writer.write(event.jsonValue)
        Self.member("reason", reason, &writer)
        if let status {
            writer.writeRaw(",\"status\":")
            writer.writeInteger(Int64(status))
        }
        if let body { Self.member("body", body, &writer) }
        writer.writeRaw(",\"attempts\":")
        writer.writeInteger(Int64(attempts))
        try append(closing: &writer, source: source, context: context)
    }

    /// Records an input record (or webhook request) whose rule failed, with the error message and
    /// Lua traceback, so `replay` can run it again once the rule is fixed.
    public func writeRecordFailure(
        record: JSONValue, error: String, traceback: String?, source: String, context: DeadLetterContext? = nil
    ) throws(DeadLetterError) {
        var writer = JSONWriter(capacity: 512)
        writer.writeRaw("{\"kind\":\"record\",\"record\":")
        writer.write(record)
        Self.member("error", error, &writer)
        if let traceback { Self.member("traceback", traceback, &writer) }
        try append(closing: &writer, source: source, context: context)
    }

    private static func member(_ key: StaticString, _ value: String, _ writer: inout JSONWriter) {
        writer.writeRaw(",\"")
        writer.writeRaw(key)
        writer.writeRaw("\":")
        writer.writeString(value)
    }

    private func append(
        closing writer: inout JSONWriter, source: String, context: DeadLetterContext?
    ) throws(DeadLetterError) {
        Self.member("source", source, &writer)
        if let sha = (context ?? self.context).rulesSHA256 { Self.member("rules_sha256", sha, &writer) }
        Self.member("at", Self.timestamp(), &writer)
        writer.writeRaw("}\n")
        let line = writer.bytes
        let outcome: DeadLetterError? = file.withLock { state in
            if state.descriptor < 0 {
                let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { return Self.fileError(path, "cannot open for appending") }
                state.descriptor = descriptor
            }
            let written = line.withUnsafeBytes { Self.writeAll(state.descriptor, $0) }
            guard written else { return Self.fileError(path, "cannot append a dead-letter entry") }
            state.count += 1
            return nil
        }
        if let outcome { throw outcome }
    }

    private static func fileError(_ path: String, _ what: String) -> DeadLetterError {
        DeadLetterError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }

    /// Writes every byte, retrying short writes and EINTR.
    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// The current UTC time as ISO 8601 with milliseconds, `2026-11-27T04:12:36.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

/// One line of a dead-letter file, as `replay` reads it back.
public struct DeadLetterEntry: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// An event the API did not accept (`event`, `reason`, `status`, `body`, `attempts`).
        case event
        /// An input record whose rule failed (`record`, `error`, `traceback`).
        case record
    }

    public var kind: Kind
    /// The event as `Event.jsonValue` wrote it (kind `.event`); `Event(validating:)` reads it back.
    public var event: JSONValue?
    /// The raw record or request (kind `.record`).
    public var record: JSONValue?
    /// Why the event was dead-lettered (kind `.event`).
    public var reason: String?
    /// The rule's error message (kind `.record`).
    public var error: String?
    public var traceback: String?
    public var status: Int?
    public var body: String?
    public var attempts: Int?
    public var source: String?
    public var rulesSHA256: String?
    /// When it was written, ISO 8601 UTC.
    public var at: String?
    /// The whole line as parsed, for fields a later version adds.
    public var json: JSONObject

    /// Reads one entry from a parsed line; throws a message when it is not a dead-letter entry.
    public init(json: JSONValue) throws(DeadLetterError) {
        guard case .object(let object) = json else {
            throw DeadLetterError(path: "", message: "a dead-letter entry must be a JSON object")
        }
        guard let kindText = object["kind"]?.stringValue, let kind = Kind(rawValue: kindText) else {
            throw DeadLetterError(path: "", message: "a dead-letter entry needs \"kind\": \"event\" or \"record\"")
        }
        self.kind = kind
        self.json = object
        event = object["event"]
        record = object["record"]
        reason = object["reason"]?.stringValue
        error = object["error"]?.stringValue
        traceback = object["traceback"]?.stringValue
        status = object["status"].flatMap(Self.integer)
        body = object["body"]?.stringValue
        attempts = object["attempts"].flatMap(Self.integer)
        source = object["source"]?.stringValue
        rulesSHA256 = object["rules_sha256"]?.stringValue
        at = object["at"]?.stringValue
        switch kind {
        case .event where event == nil:
            throw DeadLetterError(path: "", message: "an event entry needs \"event\"")
        case .record where record == nil:
            throw DeadLetterError(path: "", message: "a record entry needs \"record\"")
        default: break
        }
    }

    private static func integer(_ value: JSONValue) -> Int? {
        if case .integer(let i) = value { return Int(exactly: i) }
        return nil
    }

    /// Streams the entries of a dead-letter file in order, skipping blank lines; `body` may stop
    /// early by returning false. Errors name the file and line.
    public static func forEach(
        inFile path: String, _ body: (DeadLetterEntry) throws -> Bool
    ) throws {
        guard let stream = fopen(path, "r") else {
            throw DeadLetterError(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(stream) }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(buffer) }
        var lineNumber = 0
        while true {
            let length = getline(&buffer, &capacity, stream)
            if length < 0 {
                if ferror(stream) != 0 {
                    throw DeadLetterError(path: path, message: "read failed: \(String(cString: strerror(errno)))")
                }
                return
            }
            lineNumber += 1
            let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { continue }
            let entry: DeadLetterEntry
            do {
                entry = try DeadLetterEntry(json: try JSONValue(parsing: bytes))
            } catch let error as DeadLetterError {
                throw DeadLetterError(path: path, line: lineNumber, message: error.message)
            } catch {
                throw DeadLetterError(path: path, line: lineNumber, message: "\(error)")
            }
            guard try body(entry) else { return }
        }
    }

    /// Every entry of a dead-letter file, in order.
    public static func read(path: String) throws -> [DeadLetterEntry] {
        var entries: [DeadLetterEntry] = []
        try forEach(inFile: path) { entries.append($0); return true }
        return entries
    }
}
