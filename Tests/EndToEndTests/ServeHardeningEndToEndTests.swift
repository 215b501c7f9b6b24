import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A raw keep-alive HTTP/1.1 connection: the test sends exact bytes and reads each response by
/// its own framing, so a response that lies about its length shows up in the next one.
final class KeepAliveConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackHTTP.Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw LoopbackHTTP.Failure(description: "connect: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Sends bytes; false once the server closed the connection.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Whether the server closed the connection (reads what is there without waiting).
    var isClosedByServer: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// One response: status line and headers, then exactly Content-Length body bytes.
    func readResponse() throws -> (head: String, body: String) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let end = buffer.firstRange(of: separator) {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                var length = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                while buffer.count < end.upperBound + length { try fill() }
                let body = String(decoding: buffer[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
                buffer.removeFirst(end.upperBound + length)
                return (head, body)
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw LoopbackHTTP.Failure(description: "the connection ended (\(n)) after \(buffer.count) bytes") }
        buffer += chunk[..<n]
    }
}

@Suite(.serialized) struct ServeHardeningEndToEndTests {
    static let writeKey = ServeEndToEndTests.writeKey
    /// A delivery endpoint where nothing listens: events stay pending in the spool.
    static let deadEndpoint = "http://127.0.0.1:9/v1/"

    func startServe(
        _ rules: String, _ tmp: TemporaryDirectory, endpoint: String = deadEndpoint, _ extra: [String] = [],
        launcher: [String] = []
    ) throws -> ServeProcess {
        try ServeProcess(
            ["serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint", endpoint,
             "--backoff-base", "0.05", "--backoff-cap", "0.5"] + extra,
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], launcher: launcher)
    }

    @Test(.timeLimit(.minutes(2)))
    func ruleFramingHeadersAreDroppedSoKeepAliveStaysInSync() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", """
            function on_webhook(req)
              return { status = 200, body = "hello world",
                headers = { ["Content-Length"] = "3", ["Connection"] = "close", ["X-Rule"] = "yes" } }
            end
            """)
        let serve = try startServe(rules, tmp)
        defer { serve.kill9() }
        let connection = try KeepAliveConnection(port: serve.port)
        let request = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        #expect(connection.write(Array((request + request).utf8)))
        let first = try connection.readResponse()
        #expect(first.head.hasPrefix("HTTP/1.1 200"), "\(first)")
        #expect(first.body == "hello world")
        #expect(first.head.lowercased().contains("x-rule: yes"))
        let second = try connection.readResponse()
        #expect(second.head.hasPrefix("HTTP/1.1 200"), "the second response is not intact: \(second)")
        #expect(second.body == "hello world")
        #expect(serve.stderr.contains("warning: the rule's response header Content-Length was dropped"), "\(serve.stderr)")
        #expect(serve.stderr.contains("warning: the rule's response header Connection was dropped"))
    }

    @Test(.timeLimit(.minutes(2)))
    func slowHeadersAreCutOffAtTheHeaderTimeout() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_webhook(req) return 200 end\n")
        let serve = try startServe(rules, tmp, ["--header-timeout", "1"])
        defer { serve.kill9() }
        let slow = try KeepAliveConnection(port: serve.port)
        let head = Array("POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100)
        let start = Date()
        var closed = false
        // A header byte every quarter second, well inside the 30 s idle timeout: only the header
        // timeout can end it.
        for byte in head {
            if !slow.write([byte]) || slow.isClosedByServer {
                closed = true
                break
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        #expect(closed, "the slow connection was still open after \(Date().timeIntervalSince(start)) s")
        #expect(Date().timeIntervalSince(start) < 5)
        // A prompt client is served as before, also after keeping its connection briefly idle.
        let prompt = try KeepAliveConnection(port: serve.port)
        #expect(prompt.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        #expect(try prompt.readResponse().head.hasPrefix("HTTP/1.1 200"))
        Thread.sleep(forTimeInterval: 0.3)
        #expect(prompt.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        #expect(try prompt.readResponse().head.hasPrefix("HTTP/1.1 200"))
    }

    /// A file-size limit stands in for a full disk: the spool's commits fail, the request is
    /// answered 503, and `/healthz` says why.
    @Test(.timeLimit(.minutes(2)), .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit")))
    func aSpoolThatCannotCommitMakesHealthz503() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", """
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
        #expect(eventually(timeout: 20) { (try? serve.send("GET", "/healthz").status) == 200 }, "/healthz stayed 503")
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
    func runningOutOfDescriptorsWaitsAndWarnsOnce() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_webhook(req) return 200 end\n")
        let serve = try startServe(rules, tmp, launcher: ["/usr/bin/prlimit", "--nofile=150", "--"])
        defer { serve.kill9() }
        #expect(try serve.send("GET", "/healthz").status == 200)
        var held: [KeepAliveConnection] = []
        for _ in 0..<160 { held.append(try KeepAliveConnection(port: serve.port)) }
        let warning = "warning: serve holds"
        #expect(eventually(timeout: 10) { serve.stderrCount(warning) == 1 }, "\(serve.stderr)")
        let before = Self.cpuSeconds(serve.process.processIdentifier)
        Thread.sleep(forTimeInterval: 1)
        let used = Self.cpuSeconds(serve.process.processIdentifier) - before
        #expect(used < 0.5, "serve used \(used) s of CPU in 1 s while out of connections")
        held.removeAll()
        let reply = try serve.send("GET", "/healthz")
        #expect(reply.status == 200, "\(reply)")
        #expect(serve.stderrCount(warning) == 1)
        #expect(serve.process.isRunning)
    }
}
