import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

/// An `encharge-lua serve` process on a free loopback port. Its stdout and stderr go to files in the
/// test's directory (a pipe nobody drains could fill up and stall the server); `output` reads them.
final class ServeProcess {
    let process = Process()
    let port: Int
    let stdoutPath: String
    let stderrPath: String

    /// Starts `encharge-lua ARGUMENTS` and waits (up to 30 s) for the line
    /// `encharge-lua serve listening on http://127.0.0.1:PORT/ (spool PATH)`.
    /// `launcher` runs the binary through another program (e.g. `prlimit --fsize=N`).
    init(
        _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String], launcher: [String] = []
    ) throws {
        let name = "serve-\(UUID().uuidString)"
        stdoutPath = directory.path + "/\(name).out"
        stderrPath = directory.path + "/\(name).err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: launcher.first ?? Binary.path)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [URL(fileURLWithPath: Binary.path).path] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "ENCHARGE_ENDPOINT")
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var found: Int?
        while Date() < deadline {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first,
                let range = line.range(of: "http://127.0.0.1:"),
                let port = Int(line[range.upperBound...].prefix { $0.isNumber })
            {
                found = port
                break
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(err)"])
        }
        port = found
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    /// Everything the process wrote, for checks that no secret leaks.
    var output: String { stdout + stderr }

    /// One request to this server.
    func send(
        _ method: String = "POST", _ path: String = "/", headers: [(String, String)] = [], body: [UInt8] = [],
        chunked: Bool = false
    ) throws -> HTTPReply {
        try LoopbackHTTP.send(port: port, method: method, path: path, headers: headers, body: body, chunked: chunked)
    }

    /// A JSON POST.
    func postJSON(_ path: String = "/", _ json: String, headers: [(String, String)] = []) throws -> HTTPReply {
        try LoopbackHTTP.postJSON(port: port, path, json, headers: headers)
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// SIGTERM, then waits up to 20 s for a graceful exit (SIGKILL after that); the exit status.
    @discardableResult
    func stop() -> Int32 {
        signal(SIGTERM)
        if !waitForExit(timeout: 20) {
            signal(SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// `kill -9`: no chance to drain or flush anything.
    func kill9() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    func waitForExit(timeout: Double) -> Bool {
        eventually(timeout: timeout) { !process.isRunning }
    }

    /// How many times `text` occurs in stderr.
    func stderrCount(_ text: String) -> Int {
        stderr.components(separatedBy: text).count - 1
    }
}

/// A parsed HTTP/1.1 response.
struct HTTPReply: CustomStringConvertible {
    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    var description: String { "\(status) \(headers) \(text)" }
}

/// A minimal HTTP/1.1 client over a raw loopback socket: the test controls every byte sent (a
/// chunked body, a body that is not UTF-8, an exact Content-Length), and nothing is retried behind
/// its back. One request per connection (`Connection: close`), 15 s socket timeouts.
enum LoopbackHTTP {
    /// A JSON POST; a plain function of the port so that several threads can send at once.
    static func postJSON(port: Int, _ path: String, _ json: String, headers: [(String, String)] = []) throws -> HTTPReply {
        try send(
            port: port, method: "POST", path: path, headers: [("Content-Type", "application/json")] + headers,
            body: Array(json.utf8), chunked: false)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func send(
        port: Int, method: String, path: String, headers: [(String, String)], body: [UInt8], chunked: Bool,
        timeout: Int = 15
    ) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to port \(port): \(String(cString: strerror(errno)))") }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var request = [UInt8]()
        if chunked {
            head += "Transfer-Encoding: chunked\r\n\r\n"
            request = Array(head.utf8)
            var offset = 0
            while offset < body.count {
                let piece = body[offset..<min(body.count, offset + 256)]
                request += Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Array("\r\n".utf8)
                offset += piece.count
            }
            request += Array("0\r\n\r\n".utf8)
        } else {
            if !body.isEmpty || method != "GET" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            request = Array(head.utf8) + body
        }
        // A server may answer (413) and close before reading everything: stop sending, read the answer.
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            sent += n
        }

        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let reply = parse(received, complete: false) { return reply }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received += buffer[0..<n]
            } else if n == 0 {
                break
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw Failure(description: "no answer within \(timeout) s to \(method) \(path) (got \(received.count) bytes)")
            } else {
                if received.isEmpty { throw Failure(description: "recv: \(String(cString: strerror(errno)))") }
                break
            }
        }
        guard let reply = parse(received, complete: true) else {
            throw Failure(description: "not an HTTP response to \(method) \(path): \(String(decoding: received, as: UTF8.self))")
        }
        return reply
    }

    /// The response in `bytes`, or nil while it is incomplete (`complete`: the peer closed, so a
    /// body without a length ends here).
    static func parse(_ bytes: [UInt8], complete: Bool) -> HTTPReply? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let rest = Array(bytes[(end + 4)...])
        if let length = headers["content-length"].flatMap(Int.init) {
            guard rest.count >= length else { return nil }
            return HTTPReply(status: status, headers: headers, body: Array(rest[0..<length]))
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var body = [UInt8]()
            var index = 0
            while true {
                guard let lineEnd = (index..<max(index, rest.count - 1)).first(where: { rest[$0] == 13 && rest[$0 + 1] == 10 }),
                    let size = Int(String(decoding: rest[index..<lineEnd], as: UTF8.self), radix: 16)
                else { return complete ? HTTPReply(status: status, headers: headers, body: body) : nil }
                if size == 0 { return HTTPReply(status: status, headers: headers, body: body) }
                guard lineEnd + 2 + size <= rest.count else { return complete ? HTTPReply(status: status, headers: headers, body: body) : nil }
                body += rest[(lineEnd + 2)..<(lineEnd + 2 + size)]
                index = lineEnd + 2 + size + 2
            }
        }
        return complete ? HTTPReply(status: status, headers: headers, body: rest) : nil
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds passed.
func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.05)
    }
}

/// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), so the tests sign requests the way providers
/// do without a crypto library in the test target. Pinned by GitHub's published vector below.
enum TestHMAC {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func sha256(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + 4 * i
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d
            h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        return h.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> UInt32($0)) } }
    }

    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var key = key.count > 64 ? sha256(key) : key
        key += [UInt8](repeating: 0, count: 64 - key.count)
        let inner = sha256(key.map { $0 ^ 0x36 } + message)
        return sha256(key.map { $0 ^ 0x5c } + inner)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

/// The providers' signing schemes as `serve --verify` names them, with how a sender signs.
enum SigningScheme: String, CaseIterable, CustomStringConvertible, Sendable {
    case stripe, github, shopify, standard, hmac

    var description: String { rawValue }

    /// Stripe and Standard Webhooks sign a timestamp and refuse old ones.
    var hasTimestamp: Bool { self == .stripe || self == .standard }

    /// A secret in the form the provider's dashboard shows it.
    func secret(_ seed: String) -> String {
        switch self {
        case .stripe: "whsec_" + seed
        case .standard: "whsec_" + TestHMAC.base64(Array("standard-key-\(seed)".utf8))
        default: seed
        }
    }

    /// The headers a sender adds to `body` signed with `secret` at Unix time `timestamp`.
    func sign(_ body: [UInt8], secret: String, timestamp: Int, id: String) -> [(String, String)] {
        let key = Array(secret.utf8)
        switch self {
        case .stripe:
            let mac = TestHMAC.hmacSHA256(key: key, message: Array("\(timestamp).".utf8) + body)
            return [("Stripe-Signature", "t=\(timestamp),v1=\(TestHMAC.hex(mac))")]
        case .github:
            return [("X-Hub-Signature-256", "sha256=" + TestHMAC.hex(TestHMAC.hmacSHA256(key: key, message: body))),
                    ("X-GitHub-Delivery", id)]
        case .shopify:
            return [("X-Shopify-Hmac-Sha256", TestHMAC.base64(TestHMAC.hmacSHA256(key: key, message: body))),
                    ("X-Shopify-Webhook-Id", id)]
        case .standard:
            let decoded = Data(base64Encoded: String(secret.dropFirst("whsec_".count))).map { Array($0) } ?? []
            let mac = TestHMAC.hmacSHA256(key: decoded, message: Array("\(id).\(timestamp).".utf8) + body)
            return [("webhook-id", id), ("webhook-timestamp", "\(timestamp)"), ("webhook-signature", "v1," + TestHMAC.base64(mac))]
        case .hmac:
            return [("X-Signature", TestHMAC.hex(TestHMAC.hmacSHA256(key: key, message: body)))]
        }
    }
}

/// Replies collected from several threads.
final class ReplyLog: @unchecked Sendable {
    // Invariant: `entries` is only touched under `lock`.
    private let lock = NSLock()
    private var entries: [(seq: Int, status: Int)] = []
    func add(seq: Int, status: Int) { lock.lock(); entries.append((seq, status)); lock.unlock() }
    var all: [(seq: Int, status: Int)] { lock.lock(); defer { lock.unlock() }; return entries }
}

// MARK: - Tests

/// `encharge-lua serve` driven as a provider would: real HTTP on loopback to the built binary,
/// events delivered to a `mock-ingest` process, signals sent to the process.
@Suite(.serialized) struct ServeEndToEndTests {
    static let writeKey = "e2e-serve-write-key-7d3a91c4"

    func startMock(_ tmp: TemporaryDirectory, _ extra: [String] = []) throws -> MockIngestProcess {
        try MockIngestProcess(["--write-key", Self.writeKey] + extra, in: tmp)
    }

    /// `serve RULES --port 0 --spool tmp/spool.sqlite --endpoint MOCK` with quick retries.
    func startServe(
        _ rules: String, _ tmp: TemporaryDirectory, _ mock: MockIngestProcess, _ extra: [String] = [],
        environment: [String: String] = [:]
    ) throws -> ServeProcess {
        try ServeProcess(
            ["serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint", mock.endpoint,
             "--backoff-base", "0.05", "--backoff-cap", "0.5"] + extra,
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey].merging(environment) { $1 })
    }

    /// The `seq` property of every recorded event, in arrival order.
    func recordedSeqs(_ mock: MockIngestProcess) -> [Int] {
        mock.received().compactMap { ($0["properties"] as? [String: Any])?["seq"] as? Int }
    }

    /// Waits up to `timeout` seconds until the mock recorded an event with property `seq`.
    func waitForSeq(_ seq: Int, _ mock: MockIngestProcess, timeout: Double = 10) -> Bool {
        eventually(timeout: timeout) { recordedSeqs(mock).contains(seq) }
    }

    func expectNoSecrets(_ serve: ServeProcess, _ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let output = serve.output
        for secret in secrets + [Self.writeKey] {
            #expect(!output.contains(secret), "serve printed a secret", sourceLocation: sourceLocation)
        }
    }

    /// A rule emitting one `Paid` event per request, with the body's `email` and `seq`.
    static let paidRule = """
        function on_webhook(req)
          encharge.track("Paid", { email = req.json.email }, { seq = req.json.seq })
        end
        """

    // MARK: 0. The test's own signer

    @Test func hmacHelperMatchesGitHubsPublishedVectorAndOpenSSL() throws {
        // From GitHub's "Validating webhook deliveries".
        let mac = TestHMAC.hmacSHA256(key: Array("It's a Secret to Everybody".utf8), message: Array("Hello, World!".utf8))
        #expect(TestHMAC.hex(mac) == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(TestHMAC.hex(TestHMAC.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // A key longer than a block and a multi-block message, against openssl when it is there.
        let openssl = "/usr/bin/openssl"
        guard FileManager.default.isExecutableFile(atPath: openssl) else { return }
        let key = String(repeating: "k", count: 100), message = String(repeating: "abc", count: 100)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["dgst", "-sha256", "-hmac", key]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(message.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix(
            TestHMAC.hex(TestHMAC.hmacSHA256(key: Array(key.utf8), message: Array(message.utf8)))))
    }

    // MARK: 1. Rule errors and replay

    @Test(.timeLimit(.minutes(2)))
    func aRuleErrorAnswers500AndReplayDeliversTheKeptRequestOnceFixed() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let spool = tmp.path + "/spool.sqlite"
        let broken = try tmp.write("rules.lua", """
            function on_webhook(req)
              local plan = req.json.subscription.plan
              encharge.track("Subscribed", { email = req.json.email }, { plan = plan, seq = req.json.seq })
            end
            """)
        let fixed = try tmp.write("fixed.lua", """
            function on_webhook(req)
              local plan = req.json.subscription and req.json.subscription.plan or "free"
              encharge.track("Subscribed", { email = req.json.email }, { plan = plan, seq = req.json.seq })
            end
            """)
        var serve = try startServe(broken, tmp, mock)
        defer { serve.kill9() }

        let failed = try serve.postJSON("/billing", #"{"email":"f1@example.com","seq":1}"#)
        #expect(failed.status == 500, "\(failed)")
        let id = try #require(failed.headers["x-request-id"])
        #expect((failed.json?["error"] as? [String: Any])?["request_id"] as? String == id)
        for detail in ["traceback", "stack", ".lua", tmp.path, "attempt to index", "subscription"] {
            #expect(!failed.text.contains(detail), "the 500 body shows internals (\(detail)): \(failed.text)")
        }
        #expect(serve.stderr.contains(id), "the log names the failed request")

        let fine = try serve.postJSON("/billing", #"{"email":"f2@example.com","seq":2,"subscription":{"plan":"pro"}}"#)
        #expect(fine.status == 202, "\(fine)")
        #expect(waitForSeq(2, mock))

        // Replay next to the running server: it spools the events, the server delivers them.
        let live = try Binary.run(["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stderr.contains("1 failed request replayed"), "\(live.stderr)")
        #expect(waitForSeq(1, mock), "the running server delivers what replay spooled")
        let replayed = mock.received().first { ($0["properties"] as? [String: Any])?["seq"] as? Int == 1 }
        #expect((replayed?["user"] as? [String: Any])?["email"] as? String == "f1@example.com")
        #expect((replayed?["properties"] as? [String: Any])?["plan"] as? String == "free")

        // Replay while the server is stopped: the next serve delivers.
        let delivery = ("webhook-id", "msg_replayed_3")
        let failedAgain = try serve.postJSON("/billing", #"{"email":"f3@example.com","seq":3}"#, headers: [delivery])
        #expect(failedAgain.status == 500)
        #expect(serve.stop() == 0, "SIGTERM is a graceful exit: \(serve.stderr)")
        let offline = try Binary.run(["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stderr.contains("1 failed request replayed"), "\(offline.stderr)")
        serve = try startServe(fixed, tmp, mock)
        #expect(waitForSeq(3, mock))
        // The sender's own retry of that delivery, now that it was replayed, is a duplicate.
        let retry = try serve.postJSON("/billing", #"{"email":"f3@example.com","seq":3}"#, headers: [delivery])
        #expect(retry.status == 200, "\(retry)")
        #expect(retry.json?["duplicate"] as? Bool == true)

        // Nothing is kept any more, and nothing was delivered twice.
        let nothing = try Binary.run(["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(nothing.status == 0)
        #expect(nothing.stderr.contains("0 failed requests replayed"), "\(nothing.stderr)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(recordedSeqs(mock).sorted() == [1, 2, 3])
    }

    // MARK: 2. SIGHUP

    @Test(.timeLimit(.minutes(2)))
    func sighupReloadsTheRuleAndABrokenRuleLeavesTheLastGoodOneServing() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        func rule(_ version: String) -> String {
            """
            function on_webhook(req)
              encharge.track("Event \(version)", { email = req.json.email }, { seq = req.json.seq })
            end
            """
        }
        let rules = try tmp.write("rules.lua", rule("v1"))
        let serve = try startServe(rules, tmp, mock, ["--workers", "3"])
        defer { serve.kill9() }
        var seq = 0
        /// `count` requests, three at a time so that every worker gets some; their statuses.
        func burst(_ count: Int) -> [Int] {
            let log = ReplyLog()
            let port = serve.port
            let base = seq
            seq += count
            DispatchQueue.concurrentPerform(iterations: 3) { lane in
                for i in stride(from: base + 1 + lane, through: base + count, by: 3) {
                    let reply = try? LoopbackHTTP.postJSON(port: port, "/", #"{"email":"h\#(i)@example.com","seq":\#(i)}"#)
                    log.add(seq: i, status: reply?.status ?? -1)
                }
            }
            return log.all.map(\.status)
        }
        func names(_ range: ClosedRange<Int>) -> Set<String> {
            Set(mock.received().compactMap { event -> String? in
                guard let s = (event["properties"] as? [String: Any])?["seq"] as? Int, range.contains(s) else { return nil }
                return event["name"] as? String
            })
        }

        #expect(burst(6).allSatisfy { $0 == 202 })
        #expect(waitForSeq(6, mock))
        #expect(names(1...6) == ["Event v1"])

        _ = try tmp.write("rules.lua", rule("v2"))
        serve.signal(SIGHUP)
        #expect(eventually(timeout: 10) { serve.stderr.contains("rules reloaded") }, "\(serve.stderr)")
        // One request after the reload (one worker picks up v2).
        #expect(burst(1) == [202])
        #expect(waitForSeq(7, mock))
        #expect(names(7...7) == ["Event v2"])

        _ = try tmp.write("rules.lua", "function on_webhook(req)\n  encharge.track(\"Event v3\", \n")
        serve.signal(SIGHUP)
        #expect(eventually(timeout: 10) { serve.stderr.contains("rules not reloaded") }, "\(serve.stderr)")
        #expect(serve.stderr.contains("rules.lua"), "the refusal names the file")
        #expect(burst(12).allSatisfy { $0 == 202 }, "a broken rule on disk does not break serving")
        #expect(waitForSeq(19, mock))
        try #require(eventually(timeout: 10) { Set(recordedSeqs(mock)).isSuperset(of: 8...19) })
        // Workers that had not served since the v2 reload must load v2, not the broken file on disk.
        #expect(names(8...19) == ["Event v2"], "after a refused reload every worker serves the last good rule (v2)")
    }

    // MARK: 3. Crash

    @Test(.timeLimit(.minutes(3)))
    func killingTheServerLosesNoAcceptedEvent() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // A slow Ingest API so that a backlog is still in the spool when the server dies.
        let mock = try startMock(tmp, ["--latency-ms", "100"])
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", """
            function on_webhook(req)
              encharge.track("Tick", { email = "t" .. req.json.seq .. "@example.com" }, { seq = req.json.seq })
            end
            """)
        var serve = try startServe(rules, tmp, mock, ["--concurrency", "2"])
        defer { serve.kill9() }

        let total = 200
        let log = ReplyLog()
        let lanes = 4
        let port = serve.port
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            for seq in stride(from: lane + 1, through: total, by: lanes) {
                let reply = try? LoopbackHTTP.postJSON(port: port, "/tick", #"{"seq":\#(seq)}"#)
                log.add(seq: seq, status: reply?.status ?? -1)
            }
        }
        serve.kill9()
        let deliveredAtKill = Set(recordedSeqs(mock))
        let accepted = Set(log.all.filter { (200..<300).contains($0.status) }.map(\.seq))
        #expect(accepted.count == total, "every request was answered 2xx: \(log.all.filter { !(200..<300).contains($0.status) })")
        #expect(deliveredAtKill.count < accepted.count, "a backlog was left for the restart (else this test proves nothing)")

        serve = try startServe(rules, tmp, mock, ["--concurrency", "8"])
        let complete = eventually(timeout: 20) { Set(recordedSeqs(mock)).isSuperset(of: accepted) }
        let missing = accepted.subtracting(recordedSeqs(mock)).sorted()
        #expect(complete, "events of accepted requests lost after kill -9: \(missing.count) missing, e.g. \(missing.prefix(10))")
        // At least once, never invented: nothing that was not accepted.
        #expect(Set(recordedSeqs(mock)).isSubset(of: Set(1...total)))
        let metrics = try serve.send("GET", "/metrics")
        #expect(metrics.text.contains("encharge_spool_depth 0"), "\(metrics.text)")
    }

    // MARK: 4. Secrets

    @Test(.timeLimit(.minutes(2)))
    func writeKeyAndSecretsNeverAppearInServeOutput() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // The mock expects another key: delivery pauses on the refused key (401), the event kept pending.
        let mock = try MockIngestProcess(["--write-key", "the-key-the-mock-expects"], in: tmp)
        defer { mock.stop() }
        let signing = "hmac-signing-secret-0f3b7e"
        let token = "bearer-token-c81d2a"
        let setting = "lua-setting-secret-66ad"
        let rules = try tmp.write("rules.lua", """
            function on_webhook(req)
              log.info("handling " .. req.path)
              if req.query.peek then
                -- Everything a rule could read: strings in encharge and its settings, the environment.
                local seen = {}
                for _, v in pairs(encharge) do if type(v) == "string" then seen[#seen + 1] = v end end
                for k, v in pairs(encharge.settings) do seen[#seen + 1] = k .. "=" .. tostring(v) end
                seen[#seen + 1] = "getenv=" .. tostring(rawget(os, "getenv") and os.getenv("ENCHARGE_WRITE_KEY"))
                return { status = 200, body = table.concat(seen, "\\n") }
              end
              if req.json.fail then error("failing on purpose") end
              encharge.track("Secretive", { email = req.json.email }, { seq = req.json.seq })
            end
            """)
        let serve = try startServe(
            rules, tmp, mock,
            ["--verify", "hmac", "--hmac-header", "X-Body-Signature", "--secret-file", try tmp.write("s.txt", signing),
             "--auth-token-file", try tmp.write("t.txt", token + "\n"), "--set", "api_secret=" + setting, "--max-attempts", "1"])
        defer { serve.kill9() }
        func post(_ json: String, bearer: String?, secret: String = signing, path: String = "/") throws -> HTTPReply {
            let body = Array(json.utf8)
            var headers = [("Content-Type", "application/json"), ("X-Body-Signature", TestHMAC.hex(TestHMAC.hmacSHA256(key: Array(secret.utf8), message: body)))]
            if let bearer { headers.append(("Authorization", "Bearer " + bearer)) }
            return try serve.send("POST", path, headers: headers, body: body)
        }
        // The write key is never shown to Lua.
        let peek = try post("{}", bearer: token, path: "/?peek=1")
        #expect(peek.status == 200, "\(peek)")
        #expect(peek.text.contains("api_secret=" + setting), "the rule sees its own settings: \(peek.text)")
        #expect(peek.text.contains("getenv=nil"), "\(peek.text)")
        #expect(!peek.text.contains(Self.writeKey), "\(peek.text)")
        let replies = [
            try post(#"{"email":"s1@example.com","seq":1}"#, bearer: nil),
            try post(#"{"email":"s2@example.com","seq":2}"#, bearer: "wrong-token"),
            try post(#"{"email":"s3@example.com","seq":3}"#, bearer: token, secret: "wrong-secret"),
            try post(#"{"email":"s4@example.com","seq":4,"fail":true}"#, bearer: token),
            try post(#"{"email":"s5@example.com","seq":5}"#, bearer: token),
        ]
        #expect(replies.map(\.status) == [401, 401, 401, 500, 202], "\(replies)")
        // Wait until the one accepted event was tried and delivery paused (the mock refuses the key).
        let paused = eventually(timeout: 15) { serve.stderr.contains("refused the write key (HTTP 401)") }
        #expect(paused)
        #expect(((try? serve.send("GET", "/metrics"))?.text ?? "").contains("encharge_spool_depth 1"))
        #expect(((try? serve.send("GET", "/metrics"))?.text ?? "").contains("encharge_spool_dead 0"))
        let exit = serve.stop()
        #expect(exit == 0)
        let lines = serve.stdout.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("encharge-lua serve listening on http://127.0.0.1:"), "\(serve.stdout)")
        for secret in [Self.writeKey, signing, token, setting] {
            #expect(!serve.output.contains(secret), "serve printed a secret")
            #expect(!replies.contains { $0.text.contains(secret) }, "a response shows a secret")
        }
        // Replay of the spool also keeps the key to itself.
        let replay = try Binary.run(["replay", "--spool", tmp.path + "/spool.sqlite"], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(!replay.stdout.contains(Self.writeKey) && !replay.stderr.contains(Self.writeKey))
    }

    // MARK: 5. Graceful shutdown

    @Test(.timeLimit(.minutes(2)))
    func sigtermFinishesTheRequestInFlightAndLosesNothing() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", """
            function on_webhook(req)
              if req.json.slow then
                local start = os.clock()
                while os.clock() - start < 1.0 do end
              end
              encharge.track("Slow", { email = "slow@example.com" }, { seq = req.json.seq })
            end
            """)
        var serve = try startServe(rules, tmp, mock, ["--instruction-limit", "100000000000", "--time-limit", "10"])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"seq":1}"#).status == 202)

        let log = ReplyLog()
        let port = serve.port
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let reply = try? LoopbackHTTP.postJSON(port: port, "/", #"{"seq":2,"slow":true}"#)
            log.add(seq: 2, status: reply?.status ?? -1)
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.4)
        serve.signal(SIGTERM)
        #expect(done.wait(timeout: .now() + 15) == .success)
        #expect(log.all.first?.status == 202, "the request in flight at SIGTERM is answered: \(log.all)")
        #expect(serve.waitForExit(timeout: 20))
        #expect(serve.process.terminationStatus == 0, "\(serve.stderr)")

        // Delivered before exit, or left in the spool for the next start: never lost.
        serve = try startServe(rules, tmp, mock)
        #expect(waitForSeq(2, mock), "the answered request's event is delivered")
        #expect(recordedSeqs(mock) == [1, 2])
    }
}
