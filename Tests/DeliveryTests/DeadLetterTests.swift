import EnchargeKit
import Foundation
import JSONKit
import Testing

/// The dead-letter file: lazily created, one JSON object per line with `kind` first, read back by `replay`.
@Suite struct DeadLetterTests {
    static func path() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dead-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("dead.jsonl").path
    }

    @Test func writesNothingUntilTheFirstEntry() throws {
        let path = Self.path()
        let writer = DeadLetterWriter(path: path, context: DeadLetterContext(rulesSHA256: "ff00"))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(writer.count == 0)
        try writer.writeRecordFailure(record: "not json", error: "rules.lua:3: boom", traceback: nil, source: "in.jsonl:4")
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(writer.count == 1)
    }

    @Test func entriesRoundTrip() throws {
        let path = Self.path()
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
        let path = Self.path()
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
        let path = Self.path()
        try "{\"kind\":\"record\",\"record\":1,\"error\":\"x\",\"source\":\"s\"}\n\n{\"kind\":\"nope\"}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: DeadLetterError.self) { try DeadLetterEntry.read(path: path) }
        #expect(error?.line == 3)
        var seen = 0
        try DeadLetterEntry.forEach(inFile: path) { _ in seen += 1; return false }
        #expect(seen == 1)
    }

    @Test func unwritablePathThrowsANamedError() {
        let writer = DeadLetterWriter(path: "/nonexistent-dir-for-test/dead.jsonl")
        let error = #expect(throws: DeadLetterError.self) {
            try writer.writeRecordFailure(record: 1, error: "e", traceback: nil, source: "s")
        }
        #expect(error?.description.hasPrefix("/nonexistent-dir-for-test/dead.jsonl: cannot open") == true)
    }
}
