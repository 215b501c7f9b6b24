import JSONKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a dead-letter file, as `replay` reads it back.
public struct DeadLetterEntry: Sendable, Hashable {
    /// What the line is about.
    public enum Kind: String, Sendable, Hashable {
        /// An event the API did not accept (`event`, `reason`, `status`, `body`, `attempts`).
        case event
        /// An input record whose rule failed (`record`, `error`, `traceback`).
        case record
    }

    /// Whether the line is about an event or a record.
    public var kind: Kind
    /// The event as `Event.jsonValue` wrote it (kind `.event`); `Event(validating:)` reads it back.
    public var event: JSONValue?
    /// The raw record or request (kind `.record`).
    public var record: JSONValue?
    /// Why the event was dead-lettered (kind `.event`).
    public var reason: String?
    /// The rule's error message (kind `.record`).
    public var error: String?
    /// The rule's Lua traceback (kind `.record`), when there was one.
    public var traceback: String?
    /// The last HTTP status the API answered (kind `.event`), when there was one.
    public var status: Int?
    /// The first bytes of the last response body (kind `.event`).
    public var body: String?
    /// Attempts made to deliver the event (kind `.event`).
    public var attempts: Int?
    /// Where the record or event came from (`in.jsonl:7`, `request ID`).
    public var source: String?
    /// SHA-256 of the rules file of the run that wrote the line.
    public var rulesSHA256: String?
    /// The run that wrote the entry; nil in files written before run ids existed.
    public var runID: String?
    /// True when a `--dry-run` wrote the entry: nothing was sent, so there is nothing to replay.
    public var dryRun: Bool
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
        runID = object["run_id"]?.stringValue
        dryRun = object["dry_run"] == .bool(true)
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
    /// early by returning false. Errors name the file and line; the first line that is not an entry
    /// ends the stream with its error.
    public static func forEach(
        inFile path: String, _ body: (DeadLetterEntry) throws -> Bool
    ) throws {
        try forEach(inFile: path, invalidLine: { error throws in throw error }, body)
    }

    /// Streams the entries of a dead-letter file as `forEach(inFile:_:)` does, but hands each line
    /// that is not an entry to `invalidLine` (with its line number) and goes on with the next, so one
    /// corrupt line costs only itself. Failing to open or read the file still throws.
    public static func forEach(
        inFile path: String, invalidLine: (DeadLetterError) throws -> Void, _ body: (DeadLetterEntry) throws -> Bool
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
                try invalidLine(DeadLetterError(path: path, line: lineNumber, message: error.message))
                continue
            } catch {
                try invalidLine(DeadLetterError(path: path, line: lineNumber, message: "\(error)"))
                continue
            }
            guard try body(entry) else { return }
        }
    }

    /// Every entry of a dead-letter file, in order.
    public static func read(path: String) throws -> [DeadLetterEntry] {
        var entries: [DeadLetterEntry] = []
        try forEach(inFile: path) {
            entries.append($0); return true
        }
        return entries
    }
}
