import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `encharge-lua diff` as a process: its memory does not grow with the sample, and a rule call
/// stuck in a library function ends it with the counts so far instead of hanging.
@Suite struct DiffEndToEndTests {
    /// Tracks each record's plan; the new rule renames one plan, so half the records change.
    static func rule(renaming: Bool) -> String {
        """
        function on_record(r, ctx)
          if r.id == "stuck" then table.move({}, 1, 1e12, 2) end
          local plan = r.plan
          \(renaming ? #"if plan == "pro" then plan = "professional" end"# : "")
          encharge.track("Signed up", { email = r.email, userId = r.id }, { plan = plan })
        end
        """
    }

    /// The process's peak resident memory so far (Linux `VmHWM`), in KiB.
    private func peakResidentKiB(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return try #require(Int(line.dropFirst("VmHWM:".count).filter(\.isNumber)))
    }

    /// The sample is fed through a named pipe read as stdin, so the peak can be read while the
    /// process is still running: after 20,000 records (every buffer and both Lua states warm) and
    /// after 200,000. Keeping 12 bytes or more per input would pass the 2 MiB of growth allowed.
    @Test(.timeLimit(.minutes(5)))
    func peakMemoryStaysFlatFrom20000To200000Records() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let old = try tmp.write("old.lua", Self.rule(renaming: false))
        let new = try tmp.write("new.lua", Self.rule(renaming: true))
        let fifo = tmp.file("sample.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = try Binary.launch(
            ["diff", old, new, "--input", "-"], environment: ["DIFF_SAMPLE": fifo],
            launcher: ["/bin/sh", "-c", #"exec "$0" "$@" < "$DIFF_SAMPLE""#])
        let sample = try #require(FileHandle(forWritingAtPath: fifo))  // opens once the shell has it open
        var written = 0
        func feed(upTo count: Int) {
            var batch = ""
            while written < count {
                let plan = written % 2 == 0 ? "pro" : "basic"
                batch += #"{"email":"u\#(written)@x.com","id":"\#(written)","plan":"\#(plan)"}"# + "\n"
                written += 1
                if batch.utf8.count > 1 << 16 || written == count {
                    sample.write(Data(batch.utf8))
                    batch = ""
                }
            }
        }
        feed(upTo: 20_000)
        let warm = try peakResidentKiB(of: process.pid)
        feed(upTo: 200_000)
        let full = try peakResidentKiB(of: process.pid)
        try sample.close()
        #expect(process.wait() == 0, "stderr: \(process.stderr)")
        #expect(process.stdout.hasSuffix("200,000 inputs: 100,000 unchanged, 100,000 changed, 0 newly failing\n"))
        #expect(full - warm < 2048, "peak grew from \(warm) KiB to \(full) KiB between 20,000 and 200,000 records")
    }

    @Test func aStuckRuleCallEndsTheDiffWithTheCountsSoFarAndExits2() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write("old.lua", Self.rule(renaming: false))
        _ = try tmp.write("new.lua", Self.rule(renaming: true))
        let sample = try tmp.write(
            "sample.jsonl",
            #"{"email":"a@x.com","id":"1","plan":"pro"}"# + "\n" + #"{"email":"b@x.com","id":"stuck"}"# + "\n"
                + #"{"email":"c@x.com","id":"3","plan":"pro"}"# + "\n")
        let start = Date()
        let result = try Binary.run(
            ["diff", "old.lua", "new.lua", "--input", sample, "--time-limit", "0.5"], directory: tmp.path,
            timeout: 60)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(result.status == 2)
        #expect(
            result.stdout == "\(sample):1\n" + #"  events[0].properties.plan: was "pro", now "professional""# + "\n"
                + "stopped: 1 input: 0 unchanged, 1 changed, 0 newly failing\n")
        #expect(result.stderr.hasPrefix("old.lua:2: error: a call of the rule ran for "))
        #expect(
            result.stderr.hasSuffix("the diff stops here, so change the rule near this line (record \(sample):2)\n"))
    }

    @Test func aStuckRuleCallOnAFixtureEndsTheDiffTheSameWay() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        _ = try tmp.write("old.lua", Self.rule(renaming: false))
        _ = try tmp.write("new.lua", Self.rule(renaming: true))
        try FileManager.default.createDirectory(atPath: tmp.file("fixtures"), withIntermediateDirectories: false)
        _ = try tmp.write("fixtures/a.json", #"{"record": {"email": "a@x.com", "id": "1", "plan": "pro"}}"#)
        _ = try tmp.write("fixtures/b.json", #"{"record": {"email": "b@x.com", "id": "stuck"}}"#)
        let result = try Binary.run(
            ["diff", "old.lua", "new.lua", "--fixtures", "fixtures", "--time-limit", "0.5"], directory: tmp.path,
            timeout: 60)
        #expect(!result.timedOut)
        #expect(result.status == 2)
        #expect(
            result.stdout == "fixtures/a.json\n" + #"  events[0].properties.plan: was "pro", now "professional""# + "\n"
                + "stopped: 1 input: 0 unchanged, 1 changed, 0 newly failing\n")
        #expect(result.stderr.hasPrefix("old.lua:2: error: a call of the rule ran for "))
        #expect(
            result.stderr.hasSuffix("the diff stops here, so change the rule near this line (record fixtures/b.json)\n")
        )
    }
}
