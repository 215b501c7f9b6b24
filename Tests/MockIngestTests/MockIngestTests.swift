import EnchargeKit
import Foundation
import JSONKit
import Logging
import SystemKit
import TestSupport
import Testing

@testable import MockIngest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct MockIngestTests {
    // MARK: Helpers

    /// What a raw HTTP/1.1 exchange over loopback ended with.
    enum Outcome: Equatable {
        case response(RawResponse)
        /// The server closed the connection cleanly without sending a byte.
        case closedWithoutResponse
        /// The connection failed (reset, refused, timed out) with this errno text.
        case failed(String)

        var response: RawResponse? {
            if case .response(let r) = self { return r }
            return nil
        }
    }

    struct RawResponse: Equatable {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: String

        var errorMessage: String? {
            guard let json = try? JSONValue(parsing: body) else { return nil }
            return json["error"]?["message"]?.stringValue
        }
    }

    static let event: JSONValue = [
        "name": "Registered user",
        "user": ["email": "ada@example.com", "tags": "beta, vip"],
        "properties": ["plan": "pro", "seats": 3],
    ]

    /// What every client of the real API sends: the content type and a token.
    static let jsonWithToken = [("Content-Type", "application/json"), ("X-Encharge-Token", "any-token")]

    static func configuration(_ edit: (inout MockIngestConfiguration) -> Void = { _ in }) -> MockIngestConfiguration {
        var c = MockIngestConfiguration(port: 0, seed: 42, logLevel: .warning)
        edit(&c)
        return c
    }

    /// Sends one request with `Connection: close` and reads until the server closes. Runs on its
    /// own thread so blocking socket calls never hold a thread of the cooperative pool the
    /// server's handlers need; every read times out after 10 s.
    static func request(
        _ address: MockIngestAddress, method: String = "POST", path: String = "/v1/",
        headers: [(String, String)] = Self.jsonWithToken, body: String = ""
    ) async -> Outcome {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(address.host):\(address.port)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        let request = Array(text.utf8)
        do {
            return try await onThread { exchange(request, port: address.port) }
        } catch {
            return .failed("\(error)")
        }
    }

    /// One exchange over TestSupport's raw connection: what arrived before the server closed, or
    /// why nothing did.
    static func exchange(_ request: [UInt8], port: Int) -> Outcome {
        do {
            let connection = try RawHTTPConnection(port: port, timeout: 10)
            connection.write(request)
            let received = try connection.readToEnd()
            if received.isEmpty { return .closedWithoutResponse }
            return parse(String(decoding: received, as: UTF8.self))
        } catch {
            return .failed("\(error)")
        }
    }

    static func parse(_ text: String) -> Outcome {
        guard let split = text.range(of: "\r\n\r\n") else { return .failed("incomplete response: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            return .failed("bad status line: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return .response(RawResponse(status: status, headers: headers, body: String(text[split.upperBound...])))
    }

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("mock-ingest-\(UUID().uuidString)-\(name)").path
    }

    // MARK: Routes

    @Test func healthRoutesAnswer200AndUnknownRoutes404() async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            #expect(await Self.request(address, method: "GET", path: "/", headers: []).response?.status == 200)
            #expect(await Self.request(address, method: "GET", path: "/healthz", headers: []).response?.status == 200)
            #expect(await Self.request(address, method: "GET", path: "/v2/", headers: []).response?.status == 404)
        }
    }

    @Test func ingestURLIsTheV1Endpoint() {
        #expect(MockIngestAddress(host: "127.0.0.1", port: 8089).ingestURL == "http://127.0.0.1:8089/v1/")
        #expect(MockIngestAddress(host: "::1", port: 80).ingestURL == "http://[::1]:80/v1/")
    }

    // MARK: The contract

    @Test func validEventsAre200AndRecordedInArrivalOrder() async throws {
        let record = Self.temporaryPath("record.jsonl")
        defer { try? FileManager.default.removeItem(atPath: record) }
        // Key order, spacing and escapes as a client wrote them: the record keeps the bytes.
        let second = #"{ "user": {"userId": "42", "firstName": "Ad\u0061"},   "name": "identify" }"#
        try await withMockIngest(configuration: Self.configuration { $0.recordPath = record }) { address in
            let first = await Self.request(address, path: "/v1/", body: Self.event.encoded())
            #expect(first.response?.status == 200)
            #expect(first.response?.body == #"{"success":true}"#)
            #expect(first.response?.headers["content-type"] == "application/json")
            // `/v1` without the slash is the same endpoint; parameters on the media type are fine.
            let next = await Self.request(
                address, path: "/v1",
                headers: [("Content-Type", "Application/JSON; charset=utf-8"), ("X-Encharge-Token", "t")], body: second)
            #expect(next.response?.status == 200)
        }
        let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [Self.event.encoded(), second])
    }

    @Test func aTokenIsRequiredEvenWithoutAWriteKey() async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            for headers in [
                [("Content-Type", "application/json")],
                [("Content-Type", "application/json"), ("X-Encharge-Token", "")],
            ] {
                let response = try #require(
                    await Self.request(address, headers: headers, body: Self.event.encoded()).response)
                #expect(response.status == 401)
                #expect(response.errorMessage == "missing X-Encharge-Token header")
            }
        }
    }

    @Test func otherMethodsOnTheEndpointAre405() async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            for method in ["GET", "PUT", "DELETE"] {
                let response = try #require(await Self.request(address, method: method, path: "/v1/").response)
                #expect(response.status == 405, "\(method)")
                #expect(response.headers["allow"] == "POST")
            }
        }
    }

    @Test(
        arguments: [
            ("missing", nil, "missing X-Encharge-Token header"),
            ("wrong", "not-the-key", "invalid X-Encharge-Token"),
            ("prefix", "sk_live_sec", "invalid X-Encharge-Token"),
        ] as [(String, String?, String)])
    func wrongOrMissingTokenIs401(_ label: String, token: String?, message: String) async throws {
        let key = "sk_live_secret"
        try await withMockIngest(configuration: Self.configuration { $0.writeKey = key }) { address in
            var headers = [("Content-Type", "application/json")]
            if let token { headers.append(("X-Encharge-Token", token)) }
            let outcome = await Self.request(address, headers: headers, body: Self.event.encoded())
            let response = try #require(outcome.response, "\(label): \(outcome)")
            #expect(response.status == 401)
            #expect(response.errorMessage == message)
            #expect(!response.body.contains(key))

            let accepted = await Self.request(
                address, headers: headers.filter { $0.0 != "X-Encharge-Token" } + [("X-Encharge-Token", key)],
                body: Self.event.encoded())
            #expect(accepted.response?.status == 200)
        }
    }

    @Test(arguments: [nil, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
    func otherContentTypesAre415(_ contentType: String?) async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            let headers = (contentType.map { [("Content-Type", $0)] } ?? []) + [("X-Encharge-Token", "t")]
            let response = try #require(
                await Self.request(address, headers: headers, body: Self.event.encoded()).response)
            #expect(response.status == 415)
            #expect(response.errorMessage == "Content-Type must be application/json")
        }
    }

    @Test func malformedJSONIs400WithTheByteOffset() async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            let body = #"{"name": "x", "user": {"email": "a@b.c",}}"#
            let response = try #require(await Self.request(address, body: body).response)
            #expect(response.status == 400)
            let expected = try #require(throws: JSONParseError.self) { try JSONValue(parsing: body) }.description
            #expect(expected.contains("at byte 40"))
            #expect(response.errorMessage == expected)
        }
    }

    @Test(arguments: [
        (#"{"name": "Signed up", "user": {}}"#, "user: email or userId is required"),
        (#"{"name": "Signed up", "user": {"email": ""}}"#, "user: email or userId is required"),
        (#"{"name": "Signed up", "user": "a@b.c"}"#, "user: an object is required"),
        (#"{"user": {"email": "a@b.c"}}"#, "name: a non-empty string is required"),
        (#"{"name": 7, "user": {"email": "a@b.c"}}"#, "name: a non-empty string is required"),
        (#"[1, 2]"#, "the body must be a JSON object, not an array"),
    ])
    func eventsBreakingTheDocumentedContractAre400(_ body: String, _ message: String) async throws {
        for strict in [false, true] {
            try await withMockIngest(configuration: Self.configuration { $0.strict = strict }) { address in
                let response = try #require(await Self.request(address, body: body).response)
                #expect(response.status == 400)
                #expect(response.errorMessage == message)
            }
        }
    }

    /// What the documentation does not forbid is accepted by default and recorded as sent; only
    /// `strict` applies the tool's own validator, so a test can tell one from the other.
    @Test(arguments: [
        #"{"name": "Signed up", "user": {"email": "a@b.c", "tags": ["a", 2]}}"#,
        #"{"name": "Signed up", "user": {"email": "not an address"}}"#,
    ])
    func onlyStrictModeAppliesTheToolsOwnValidation(_ body: String) async throws {
        let record = Self.temporaryPath("lenient.jsonl")
        defer { try? FileManager.default.removeItem(atPath: record) }
        let json = try JSONValue(parsing: body)
        let error = try #require(throws: EventValidationError.self) { try Event(validating: json) }
        try await withMockIngest(configuration: Self.configuration { $0.recordPath = record }) { address in
            #expect(await Self.request(address, body: body).response?.status == 200)
        }
        #expect(try String(contentsOfFile: record, encoding: .utf8) == body + "\n")
        try await withMockIngest(configuration: Self.configuration { $0.strict = true }) { address in
            let response = try #require(await Self.request(address, body: body).response)
            #expect(response.status == 400)
            #expect(response.errorMessage == error.description)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withMockIngest(configuration: Self.configuration { $0.maxBodyBytes = 64 }) { address in
            let response = try #require(await Self.request(address, body: Self.event.encoded(pretty: true)).response)
            #expect(response.status == 413)
        }
    }

    // MARK: Fault injection

    @Test func failRateOneAnswers500() async throws {
        try await withMockIngest(configuration: Self.configuration { $0.failRate = 1 }) { address in
            for _ in 0..<3 {
                let response = try #require(await Self.request(address, body: Self.event.encoded()).response)
                #expect(response.status == 500)
                #expect(response.errorMessage == "injected failure (--fail-rate)")
            }
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        try await withMockIngest(configuration: Self.configuration { $0.rateLimit = 1 }) { address in
            var statuses: [Int] = []
            var retryAfter: [String?] = []
            for _ in 0..<5 {
                let response = try #require(await Self.request(address, body: Self.event.encoded()).response)
                statuses.append(response.status)
                if response.status == 429 { retryAfter.append(response.headers["retry-after"]) }
            }
            // One token a second: the first request passes and five quick ones cannot all pass.
            #expect(statuses.first == 200)
            #expect(statuses.contains(429))
            #expect(Set(statuses).isSubset(of: [200, 429]))
            #expect(retryAfter.allSatisfy { $0 == "1" })
            // Health checks are never rate limited.
            #expect(await Self.request(address, method: "GET", path: "/healthz", headers: []).response?.status == 200)
        }
    }

    @Test func dropRateOneClosesWithoutAnAnswer() async throws {
        let record = Self.temporaryPath("dropped.jsonl")
        defer { try? FileManager.default.removeItem(atPath: record) }
        try await withMockIngest(
            configuration: Self.configuration {
                $0.dropRate = 1; $0.recordPath = record
            }
        ) { address in
            for _ in 0..<2 {
                #expect(await Self.request(address, body: Self.event.encoded()) == .closedWithoutResponse)
            }
            #expect(await Self.request(address, method: "GET", path: "/healthz", headers: []).response?.status == 200)
        }
        #expect(try String(contentsOfFile: record, encoding: .utf8).isEmpty)
    }

    @Test func latencyDelaysTheAnswer() async throws {
        try await withMockIngest(configuration: Self.configuration { $0.latency = .milliseconds(300) }) { address in
            let clock = ContinuousClock()
            var outcome: Outcome?
            let elapsed = await clock.measure { outcome = await Self.request(address, body: Self.event.encoded()) }
            #expect(outcome?.response?.status == 200)
            #expect(elapsed >= .milliseconds(300))
        }
    }

    @Test func theSameSeedDrawsTheSameFaults() {
        func decisions(seed: UInt64) -> [MockIngestFault] {
            let injector = MockIngestFaultInjector(dropRate: 0.2, failRate: 0.3, rateLimit: nil, seed: seed)
            return (0..<500).map { _ in injector.decide() }
        }
        let a = decisions(seed: 7)
        #expect(a == decisions(seed: 7))
        #expect(a != decisions(seed: 8))
        let drops = a.filter { $0 == .drop }.count
        let fails = a.filter { $0 == .fail }.count
        // 500 draws: expect about 100 drops and 120 fails (0.8 × 0.3 × 500).
        #expect((60...140).contains(drops))
        #expect((75...165).contains(fails))
    }

    @Test func theRateLimitRefillsOverTime() {
        let injector = MockIngestFaultInjector(dropRate: 0, failRate: 0, rateLimit: 2, seed: 1)
        let start = ContinuousClock.now
        #expect(injector.decide(now: start) == .none)
        #expect(injector.decide(now: start) == .none)
        #expect(injector.decide(now: start) == .rateLimited)
        #expect(injector.decide(now: start + .milliseconds(499)) == .rateLimited)
        #expect(injector.decide(now: start + .milliseconds(1000)) == .none)
        #expect(injector.decide(now: start + .seconds(10)) == .none)
        #expect(injector.decide(now: start + .seconds(10)) == .none)
        #expect(injector.decide(now: start + .seconds(10)) == .rateLimited)
    }

    // MARK: Configuration and secrets

    @Test(arguments: [
        Self.configuration { $0.failRate = 1.5 },
        Self.configuration { $0.dropRate = -0.1 },
        Self.configuration { $0.rateLimit = 0 },
        Self.configuration { $0.port = 70000 },
        Self.configuration { $0.writeKey = "" },
        Self.configuration { $0.latency = .milliseconds(-1) },
    ])
    func outOfRangeSettingsAreRejected(_ configuration: MockIngestConfiguration) {
        #expect(throws: MockIngestError.self) { try configuration.validate() }
    }

    @Test func theWriteKeyNeverAppearsInDescriptions() {
        let configuration = Self.configuration { $0.writeKey = "sk_live_secret" }
        #expect(!configuration.description.contains("sk_live_secret"))
        #expect(!String(reflecting: configuration).contains("sk_live_secret"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("sk_live_secret"))
    }

    @Test(arguments: [
        ("key", "key", true), ("key", "kez", false), ("key", "ke", false), ("key", "keyy", false), ("", "key", false),
    ])
    func tokensCompareExactly(_ presented: String, _ expected: String, _ equal: Bool) {
        #expect(ConstantTime.equals(Array(presented.utf8), Array(expected.utf8)) == equal)
    }

    @Test func anUnwritableRecordFileFailsAtStart() {
        #expect(throws: MockIngestError.self) {
            _ = try buildMockIngestApplication(
                configuration: Self.configuration { $0.recordPath = "/nonexistent-dir/x.jsonl" })
        }
    }

    @Test func aPortInUseFailsInsteadOfHanging() async throws {
        try await withMockIngest(configuration: Self.configuration()) { address in
            await #expect(throws: (any Error).self) {
                try await withMockIngest(configuration: Self.configuration { $0.port = address.port }) { _ in }
            }
        }
    }
}
