import EnchargeKit
import Foundation
import JSONKit
import SystemKit
import TestSupport
import Testing

/// The dead-letter file: lazily created, one JSON object per line with `kind` first, read back by `replay`.
@Suite struct DeadLetterTests {
    @Test func writesNothingUntilTheFirstEntry() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path, context: DeadLetterContext(rulesSHA256: "ff00"))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(writer.count == 0)
        try writer.writeRecordFailure(
            record: "not json", error: "rules.lua:3: boom", traceback: nil, source: "in.jsonl:4")
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(writer.count == 1)
    }

    @Test func entriesRoundTrip() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path, context: DeadLetterContext(rulesSHA256: "ff00"))
        let event = try Event.track(
            name: "Paid", user: ["email": "ann@example.com"], properties: ["amount": 12.5, "note": "a\nb\"c"],
            sourceIp: "10.0.0.1")
        try writer.writeEventFailure(
            event: event, reason: "HTTP 400: the Ingest API rejected the event", status: 400, body: "{\"error\":1}",
            attempts: 1, source: "in.jsonl:1")
        let record: JSONValue = ["id": 17, "tags": ["a", "b"], "gone": nil]
        try writer.writeRecordFailure(
            record: record, error: "rules.lua:14: attempt to index a nil value", traceback: "stack traceback:\n\t...",
            source: "in.jsonl:2", context: DeadLetterContext(rulesSHA256: "other"))
        try writer.writeEventFailure(event: event, reason: "interrupted", attempts: 0, source: "in.jsonl:3")

        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"kind\":") })

        let entries = try DeadLetterEntry.read(path: path)
        #expect(entries.count == 3)
        let first = entries[0]
        #expect(first.kind == .event)
        #expect(try Event(validating: try #require(first.event)) == event)
        #expect(first.status == 400)
        #expect(first.body == "{\"error\":1}")
        #expect(first.attempts == 1)
        #expect(first.source == "in.jsonl:1")
        #expect(first.rulesSHA256 == "ff00")
        let at = try #require(first.at)
        #expect(at.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)

        let second = entries[1]
        #expect(second.kind == .record)
        #expect(second.record == record)
        #expect(second.error == "rules.lua:14: attempt to index a nil value")
        #expect(second.traceback == "stack traceback:\n\t...")
        #expect(second.rulesSHA256 == "other")

        #expect(entries[2].status == nil)
        #expect(entries[2].body == nil)
        #expect(entries[2].reason == "interrupted")
    }

    @Test func concurrentWritersProduceWholeLines() async throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<50 {
                        try? writer.writeRecordFailure(
                            record: .string(String(repeating: "r", count: 300)), error: "e\(task)-\(i)", traceback: nil,
                            source: "s")
                    }
                }
            }
        }
        #expect(writer.count == 400)
        #expect(try DeadLetterEntry.read(path: path).count == 400)
    }

    @Test func readingReportsTheBadLine() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        try "{\"kind\":\"record\",\"record\":1,\"error\":\"x\",\"source\":\"s\"}\n\n{\"kind\":\"nope\"}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: DeadLetterError.self) { try DeadLetterEntry.read(path: path) }
        #expect(error?.line == 3)
        var seen = 0
        try DeadLetterEntry.forEach(inFile: path) { _ in
            seen += 1; return false
        }
        #expect(seen == 1)
    }

    @Test func unwritablePathThrowsANamedError() {
        let writer = DeadLetterWriter(path: "/nonexistent-dir-for-test/dead.jsonl")
        let error = #expect(throws: DeadLetterError.self) {
            try writer.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        }
        #expect(error?.description.hasPrefix("/nonexistent-dir-for-test/dead.jsonl: cannot open") == true)
    }

    @Test func entriesCarryTheRunIDAndTheDryRunFlag() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let dry = DeadLetterWriter(path: path, context: DeadLetterContext(runID: "run-1", dryRun: true))
        try dry.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        let real = DeadLetterWriter(path: path)
        try real.writeRecordFailure(record: 2, error: "e", traceback: nil, source: "s")
        let entries = try DeadLetterEntry.read(path: path)
        #expect(entries.first?.runID == "run-1")
        let generated = try #require(entries.last?.runID)
        #expect(generated.wholeMatch(of: /\d{8}T\d{6}Z-[0-9a-f]{8}/) != nil)
        #expect(entries.map(\.dryRun) == [true, false])
        // Each new context is a new run: two jobs in one process are told apart.
        #expect(DeadLetterContext().runID != DeadLetterContext().runID)
        // Files written before run ids existed read as real entries.
        let old = try DeadLetterEntry(json: ["kind": "record", "record": 1])
        #expect(old.runID == nil && !old.dryRun)
    }

    @Test func filesAreCreatedOwnerOnly() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        try DeadLetterWriter(path: path).writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        var info = stat()
        try #require(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test func prepareOpensTheFileAndACleanJobRemovesIt() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path)
        try writer.prepare()
        #expect(FileManager.default.fileExists(atPath: path), "opened for appending before the first record")
        writer.removeIfUnused()
        #expect(!FileManager.default.fileExists(atPath: path), "a clean run still leaves no file")
        let used = DeadLetterWriter(path: path)
        try used.prepare()
        try used.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        used.removeIfUnused()
        #expect(used.count == 1 && FileManager.default.fileExists(atPath: path))
        #expect(throws: DeadLetterError.self) { try DeadLetterWriter(path: "/proc/encharge-dead.jsonl").prepare() }

        let missing = #expect(throws: DeadLetterError.self) {
            try DeadLetterWriter(path: "/nonexistent-dir-for-test/dead.jsonl").prepare()
        }
        #expect(missing?.message == "the directory /nonexistent-dir-for-test does not exist")
        let directory = (path as NSString).deletingLastPathComponent
        let isDirectory = #expect(throws: DeadLetterError.self) { try DeadLetterWriter(path: directory).prepare() }
        #expect(isDirectory?.message.hasPrefix("cannot open for appending: Is a directory") == true)
    }

    @Test func sameFileIsFoundByDeviceAndInode() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        try "x\n".write(toFile: path, atomically: true, encoding: .utf8)
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: path)
        let writer = DeadLetterWriter(path: directory + "/link")
        try writer.prepare()
        #expect(writer.isSameFile(as: directory + "/./dead.jsonl"))
        #expect(!DeadLetterWriter(path: directory + "/other.jsonl").isSameFile(as: path))
        #expect(!DeadLetterWriter.discarding(context: DeadLetterContext()).keepsEntries)
        #expect(writer.keepsEntries)
    }

    @Test func corruptLinesAreHandedOverAndTheRestIsRead() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let good = "{\"kind\":\"record\",\"record\":1}"
        try "\(good)\nnot json\n{\"kind\":\"nope\"}\n\(good)\n".write(toFile: path, atomically: true, encoding: .utf8)
        var bad: [Int] = []
        var read = 0
        try DeadLetterEntry.forEach(inFile: path, invalidLine: { bad.append($0.line ?? 0) }) { _ in
            read += 1
            return true
        }
        #expect(bad == [2, 3])
        #expect(read == 2)
    }

    @Test func longTextIsCappedInEntries() throws {
        let tmp = try TemporaryDirectory(prefix: "dead")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path)
        let long = String(repeating: "é", count: 3000)  // 6000 bytes
        try writer.writeRecordFailure(record: 1, error: long, traceback: long, source: "s")
        let event = try Event.identify(user: ["email": "a@x.io"])
        try writer.writeEventFailure(event: event, reason: long, body: long, attempts: 1, source: "s")
        let entries = try DeadLetterEntry.read(path: path)
        let texts = [entries[0].error, entries[0].traceback, entries[1].reason, entries[1].body].compactMap { $0 }
        #expect(texts.count == 4)
        for text in texts {
            #expect(text == String(repeating: "é", count: 2048) + "… (1904 bytes more)")
        }
        #expect("short".cappedForDiagnostics() == "short")
    }
}
