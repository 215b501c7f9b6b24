import EnchargeKit
import EnchargeRules
import Foundation
import RecordSources
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import EnchargeCommands

/// `run` in process against TestSupport's scripted Ingest API: delivery, the summary's delivery
/// counts, and an interrupt part-way that leaves every event delivered or dead-lettered.
@Suite struct RunDeliveryTests {
    static let rule = "function on_record(r) encharge.track('Signed up', { email = r.email }) end"

    func job(
        _ harness: JobHarness, endpoint: String, records: Int, concurrency: Int = 4, maxQueuedEvents: Int = 10_000
    ) throws -> RunJobConfiguration {
        let input = (1...records).map { #"{"email":"p\#($0)@x.io"}"# }.joined(separator: "\n") + "\n"
        return RunJobConfiguration(
            rule: RuleOptions(rulesPath: try harness.file("rules.lua", Self.rule)),
            inputs: [InputSpec(path: try harness.file("in.jsonl", input), format: .jsonl)], dryRun: false,
            deadLetterPath: harness.directory.file("dead.jsonl"), failFast: false, quiet: false,
            delivery: DeliveryConfiguration(
                endpoint: endpoint, writeKey: "test-key", userAgent: "encharge-lua-tests", concurrency: concurrency,
                maxAttempts: 2, backoffBase: 0.01, backoffCap: 0.05, maxQueuedEvents: maxQueuedEvents),
            drainTimeout: 5)
    }

    /// `(emitted, delivered, dead-lettered)` read back from the summary line.
    func counts(_ summary: String) throws -> (events: Int, delivered: Int, deadLettered: Int) {
        func number(before word: String) throws -> Int {
            let range = try #require(summary.range(of: " " + word), "no '\(word)' in \(summary)")
            let digits = summary[..<range.lowerBound].reversed().prefix { $0.isNumber }
            return try #require(Int(String(digits.reversed())), "no count before '\(word)' in \(summary)")
        }
        return (try number(before: "events;"), try number(before: "delivered,"), try number(before: "dead-lettered"))
    }

    @Test func everyEventIsDeliveredAndTheSummarySaysSo() async throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        try await ScriptedIngestServer.with(script: { _, _ in .ok }) { server, endpoint in
            let job = try job(harness, endpoint: endpoint, records: 3)
            let context = harness.context()
            let status = try await onThread { runJob(job, context: context) }
            #expect(status == .success)
            #expect(server.accepted.count == 3)
            #expect(Set(server.accepted.compactMap(\.person)) == ["p1@x.io", "p2@x.io", "p3@x.io"])
            #expect(server.accepted.allSatisfy { $0.token == "test-key" })
            let summary = try #require(harness.stderrLines.last)
            #expect(
                summary.hasPrefix(
                    "done: 3 records: 3 with events, 0 skipped, 0 failed; 3 events; 3 delivered, "
                        + "0 retried, 0 dead-lettered, latency p50 "), "\(summary)")
            #expect(harness.stdout.text.isEmpty)
            #expect(
                !FileManager.default.fileExists(atPath: job.deadLetterPath!), "no dead-letter file when nothing failed")
        }
    }

    @Test func anInterruptPartWayExits130WithEveryEventDeliveredOrDeadLettered() async throws {
        let harness = try JobHarness()
        defer { harness.cleanup() }
        let interrupts = harness.interrupts
        try await ScriptedIngestServer.with(script: { _, _ in .ok }) { server, endpoint in
            // The fifth request to arrive acts as Ctrl-C, once (a second interrupt would end the
            // process). Answers are slow and the queue is short, so the run is still reading then.
            let interrupted = Mutex(false)
            server.answer { _, _ in
                let now =
                    server.received.count >= 5
                    && interrupted.withLock { done in
                        defer { done = true }
                        return !done
                    }
                if now { interrupts.interrupt() }
                return IngestReply.ok.delayed(by: .milliseconds(20))
            }
            let job = try job(harness, endpoint: endpoint, records: 500, concurrency: 2, maxQueuedEvents: 16)
            let context = harness.context()
            let status = try await onThread { runJob(job, context: context) }
            #expect(status == .interrupted)
            let summary = try #require(
                harness.stderrLines.first { $0.hasPrefix("interrupted: ") }, "\(harness.stderr.text)")
            let (events, delivered, deadLettered) = try counts(summary)
            #expect(events >= 5 && events < 500, "\(summary)")
            #expect(delivered + deadLettered == events, "\(summary)")
            #expect(server.accepted.count == delivered, "\(summary)")
            let entries = harness.directory.lines("dead.jsonl")
            #expect(entries.count == deadLettered)
            #expect(entries.allSatisfy { $0.hasPrefix(#"{"kind":"event""#) })
            #expect(
                harness.stderr.text.contains("the run stopped before reading all input: the first record not read is "))
        }
    }
}
