import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ServeHardeningEndToEndTests {
    static let writeKey = ServeEndToEndTests.writeKey
    /// A delivery endpoint where nothing listens: events stay pending in the spool.
    static let deadEndpoint = "http://127.0.0.1:9/v1/"

    func startServe(
        _ rules: String, _ tmp: TemporaryDirectory, endpoint: String = deadEndpoint, _ extra: [String] = [],
        launcher: [String] = []
    ) throws -> ServeProcess {
        try ServeProcess(
            [
                "serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint", endpoint,
                "--backoff-base", "0.05", "--backoff-cap", "0.5",
            ] + extra,
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], launcher: launcher)
    }

    /// A file-size limit stands in for a full disk: the spool's commits fail, the request is
    /// answered 503, and `/healthz` says why.
    @Test(.timeLimit(.minutes(2)), .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func aSpoolThatCannotCommitMakesHealthz503() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req) encharge.track("Big", { email = "a@example.com" }, { pad = req.json.pad }) end
            """)
        let serve = try startServe(rules, tmp, launcher: ["/usr/bin/prlimit", "--fsize=400000:unlimited", "--"])
        defer { serve.kill9() }
        #expect(try serve.send("GET", "/healthz").status == 200)
        let pad = String(repeating: "x", count: 20_000)
        var refused: HTTPReply?
        for _ in 0..<100 {
            let reply = try serve.postJSON("/", #"{"pad":"\#(pad)"}"#)
            if reply.status != 202 {
                refused = reply
                break
            }
        }
        let reply = try #require(refused, "every request was stored under a 400 kB file-size limit")
        #expect(reply.status == 503, "\(reply)")
        let health = try serve.send("GET", "/healthz")
        #expect(health.status == 503)
        #expect(health.text.contains("the spool cannot commit"), "\(health)")
        // The disk recovers (the limit is lifted); /healthz sees it without waiting for a request.
        let lift = Process()
        lift.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        lift.arguments = ["--pid", "\(serve.process.processIdentifier)", "--fsize=unlimited:unlimited"]
        try lift.run()
        lift.waitUntilExit()
        try #require(lift.terminationStatus == 0, "prlimit could not lift the limit")
        await eventually("/healthz stayed 503", timeout: .seconds(20)) {
            (try? serve.send("GET", "/healthz").status) == 200
        }
        let after = try serve.postJSON("/", #"{"pad":"x"}"#)
        #expect(after.status == 202, "\(after) \(serve.stderr.suffix(1500))")
    }
}

extension ServeHardeningEndToEndTests {
    /// CPU seconds (user + system) a process used so far, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Under a low open-file limit, connections beyond what it allows wait instead of making the
    /// accept loop fail and retry; the server says so once, stays idle, and serves again once
    /// clients leave.
    @Test(.timeLimit(.minutes(2)), .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func runningOutOfDescriptorsWaitsAndWarnsOnce() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_webhook(req) return 200 end\n")
        let serve = try startServe(rules, tmp, launcher: ["/usr/bin/prlimit", "--nofile=150", "--"])
        defer { serve.kill9() }
        #expect(try serve.send("GET", "/healthz").status == 200)
        var held: [RawHTTPConnection] = []
        for _ in 0..<160 { held.append(try RawHTTPConnection(port: serve.port)) }
        let warning = "warning: serve holds"
        await eventually("\(serve.stderr)", timeout: .seconds(10)) { serve.stderrCount(warning) == 1 }
        let before = Self.cpuSeconds(serve.process.processIdentifier)
        // The window the CPU use is measured over.
        try await Task.sleep(for: .seconds(1))
        let used = Self.cpuSeconds(serve.process.processIdentifier) - before
        #expect(used < 0.5, "serve used \(used) s of CPU in 1 s while out of connections")
        held.removeAll()
        let reply = try serve.send("GET", "/healthz")
        #expect(reply.status == 200, "\(reply)")
        #expect(serve.stderrCount(warning) == 1)
        #expect(serve.process.isRunning)
    }
}
