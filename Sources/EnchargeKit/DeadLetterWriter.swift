import JSONKit
import Synchronization
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends dead-letter entries, one JSON object per line, to a file. Safe to share between threads;
/// a missing file is created (mode 0600: entries hold people's data) on the first entry, so a clean
/// run leaves none, and each line reaches the file with one `write` before the call returns. Call
/// `prepare()` before the first record so that an unwritable path stops a job before it reads input.
///
/// Event entries: `{"kind":"event","event":{...},"reason":"...","status":429,"body":"...",
/// "attempts":8,"source":"signups.jsonl:42","rules_sha256":"...","run_id":"...","dry_run":false,
/// "at":"2026-11-27T04:12:36.123Z"}`. Record entries: `{"kind":"record","record":...,"error":
/// "rules.lua:14: ...","traceback":"...","source":"...",...}`. Absent optional fields are left out;
/// `reason`, `body`, `error` and `traceback` are capped at `DeadLetterWriter.textLimit` bytes.
public final class DeadLetterWriter: Sendable {
    /// The file entries go to.
    public let path: String
    /// Used by entries written without a context of their own.
    public let context: DeadLetterContext
    /// The longest `reason`, `body`, `error` or `traceback` kept, in UTF-8 bytes; the rest is cut with
    /// `… (N bytes more)`, so a hostile record cannot fill the file through its error message.
    public static let textLimit = 4096

    private struct FileState {
        var descriptor: Int32 = -1
        var events = 0
        var records = 0
        /// `prepare()` created the file (it did not exist before this job).
        var created = false
        /// The file held bytes when `prepare()` opened it: entries of earlier runs, maybe.
        var heldEarlierEntries = false
    }

    private let file = Mutex(FileState())

    /// A writer appending entries to `path` (see `prepare()`), each stamped with `context`.
    public init(path: String, context: DeadLetterContext = DeadLetterContext()) {
        self.path = path
        self.context = context
    }

    /// A writer whose entries go nowhere but its counts: a dry run without `--dead-letter`.
    public static func discarding(context: DeadLetterContext) -> DeadLetterWriter {
        DeadLetterWriter(path: "/dev/null", context: context)
    }

    deinit {
        file.withLock { state in
            if state.descriptor >= 0 { close(state.descriptor) }
        }
    }

    /// Entries written by this writer so far.
    public var count: Int { file.withLock { $0.events + $0.records } }
    /// Record entries (failed records, kept for a replay through a fixed rule) written so far.
    public var recordCount: Int { file.withLock { $0.records } }

    /// True when the file already held entries (of earlier runs) when `prepare()` opened it, so a replay
    /// of this job's entries needs `--run-id`.
    public var holdsEarlierEntries: Bool { file.withLock { $0.heldEarlierEntries } }

    /// Opens the file for appending before any entry, creating it (mode 0600) when missing, so a path
    /// that cannot take entries (a missing or read-only directory, `/proc`, `/sys`) stops a job before
    /// it reads input. A file created here and still empty at the end is removed by `removeIfUnused()`.
    public func prepare() throws(DeadLetterError) {
        let failure: DeadLetterError? = file.withLock { state in
            if state.descriptor >= 0 { return nil }
            var descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            if descriptor < 0 && errno == ENOENT {
                let directory = Self.directory(of: path)
                var info = stat()
                guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    return DeadLetterError(path: path, message: "the directory \(directory) does not exist")
                }
                descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { return Self.fileError(path, "cannot create") }
                state.created = true
            }
            guard descriptor >= 0 else { return Self.fileError(path, "cannot open for appending") }
            var info = stat()
            if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 {
                state.heldEarlierEntries = true
            }
            state.descriptor = descriptor
            return nil
        }
        if let failure { throw failure }
    }

    /// Removes the file again when `prepare()` created it and no entry was written, so a clean job
    /// leaves no file behind. Call once, at the end of the job.
    public func removeIfUnused() {
        file.withLock { state in
            guard state.created, state.events + state.records == 0 else { return }
            var info = stat()
            if state.descriptor >= 0, fstat(state.descriptor, &info) == 0, info.st_size == 0 {
                unlink(path)
                close(state.descriptor)
                state.descriptor = -1
                state.created = false
            }
        }
    }

    /// True when the dead-letter file exists and is the file at `otherPath` (same device and inode),
    /// however either is spelled: `./x`, an absolute path, a symbolic or a hard link.
    public func isSameFile(as otherPath: String) -> Bool {
        var other = stat()
        guard stat(otherPath, &other) == 0 else { return false }
        var mine = stat()
        let found: Bool = file.withLock { state in
            state.descriptor >= 0 ? fstat(state.descriptor, &mine) == 0 : stat(path, &mine) == 0
        }
        return found && mine.st_dev == other.st_dev && mine.st_ino == other.st_ino
    }

    /// False when the path names something other than a regular file that exists or will be created,
    /// such as `/dev/null`: entries sent there cannot be replayed.
    public var keepsEntries: Bool {
        var info = stat()
        let found: Bool = file.withLock { state in
            state.descriptor >= 0 ? fstat(state.descriptor, &info) == 0 : stat(path, &info) == 0
        }
        return !found || (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Records an event that could not be delivered. `reason`, `body` and `source` must already be
    /// free of secrets (the delivery engine redacts the write key before calling this).
    public func writeEventFailure(
        event: Event, reason: String, status: Int? = nil, body: String? = nil, attempts: Int,
        source: String, context: DeadLetterContext? = nil
    ) throws(DeadLetterError) {
        var writer = JSONWriter(capacity: 512)
        writer.writeRaw("{\"kind\":\"event\",\"event\":")
        writer.write(event.jsonValue)
        Self.member("reason", reason.cappedForDiagnostics(maxBytes: Self.textLimit), &writer)
        if let status {
            writer.writeRaw(",\"status\":")
            writer.writeInteger(Int64(status))
        }
        if let body { Self.member("body", body.cappedForDiagnostics(maxBytes: Self.textLimit), &writer) }
        writer.writeRaw(",\"attempts\":")
        writer.writeInteger(Int64(attempts))
        try append(closing: &writer, source: source, context: context, isRecord: false)
    }

    /// Records an input record (or webhook request) whose rule failed, with the error message and
    /// Lua traceback, so `replay` can run it again once the rule is fixed.
    public func writeRecordFailure(
        record: JSONValue, error: String, traceback: String?, source: String, context: DeadLetterContext? = nil
    ) throws(DeadLetterError) {
        var writer = JSONWriter(capacity: 512)
        writer.writeRaw("{\"kind\":\"record\",\"record\":")
        writer.write(record)
        Self.member("error", error.cappedForDiagnostics(maxBytes: Self.textLimit), &writer)
        if let traceback { Self.member("traceback", traceback.cappedForDiagnostics(maxBytes: Self.textLimit), &writer) }
        try append(closing: &writer, source: source, context: context, isRecord: true)
    }

    /// Copies an entry this job did not get to (a replay that stopped early) as it is, but under this
    /// job's run id (the earlier one is kept as `carried_from_run_id`), so the `--run-id` in the hint
    /// after the job selects it too.
    public func writeUnread(_ entry: DeadLetterEntry) throws(DeadLetterError) {
        var object = entry.json
        if let earlier = object["run_id"], object["carried_from_run_id"] == nil {
            object["carried_from_run_id"] = earlier
        }
        object["run_id"] = .string(context.runID)
        var writer = JSONWriter(capacity: 512)
        writer.write(.object(object))
        writer.writeRaw("\n")
        try appendLine(writer.bytes, isRecord: entry.kind == .record)
    }

    private static func member(_ key: StaticString, _ value: String, _ writer: inout JSONWriter) {
        writer.writeRaw(",\"")
        writer.writeRaw(key)
        writer.writeRaw("\":")
        writer.writeString(value)
    }

    private func append(
        closing writer: inout JSONWriter, source: String, context: DeadLetterContext?, isRecord: Bool
    ) throws(DeadLetterError) {
        let context = context ?? self.context
        Self.member("source", source, &writer)
        if let sha = context.rulesSHA256 { Self.member("rules_sha256", sha, &writer) }
        Self.member("run_id", context.runID, &writer)
        writer.writeRaw(context.dryRun ? ",\"dry_run\":true" : ",\"dry_run\":false")
        Self.member("at", Self.timestamp(), &writer)
        writer.writeRaw("}\n")
        try appendLine(writer.bytes, isRecord: isRecord)
    }

    private func appendLine(_ line: [UInt8], isRecord: Bool) throws(DeadLetterError) {
        let outcome: DeadLetterError? = file.withLock { state in
            if state.descriptor < 0 {
                let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { return Self.fileError(path, "cannot open for appending") }
                state.descriptor = descriptor
            }
            let written = line.withUnsafeBytes { FileDescriptor(rawValue: state.descriptor).writeAll($0) }
            guard written else { return Self.fileError(path, "cannot append a dead-letter entry") }
            if isRecord { state.records += 1 } else { state.events += 1 }
            return nil
        }
        if let outcome { throw outcome }
    }

    private static func fileError(_ path: String, _ what: String) -> DeadLetterError {
        DeadLetterError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }

    /// `a/b/c.jsonl` → `a/b`, `c.jsonl` → `.`, `/c.jsonl` → `/`.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The current UTC time as ISO 8601 with milliseconds, always three digits of them,
    /// `2026-11-27T04:12:36.123Z`.
    static func timestamp() -> String {
        let milliseconds = Int64((SystemClock.wallSeconds() * 1000).rounded(.down))
        return EnchargeDate.format(epochMilliseconds: milliseconds, alwaysWithMilliseconds: true)
    }
}
