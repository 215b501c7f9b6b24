import EnchargeKit
import Foundation
import JSONKit
import Synchronization
import TestSupport
import Testing

/// The delivery engine against a real HTTP server on the loopback interface: headers, retries,
/// dead letters, per-person order, secrets, interruption and backpressure.
@Suite(.timeLimit(.minutes(1)))
struct DeliveryEngineTests {
    static let writeKey = "wk_live_7f3a9c1e5b2d4680aabbccdd"

    // MARK: Helpers

    /// A track event for `email` (or `userId`) that carries `seq` so the server can tell events apart.
    static func track(_ name: String = "Signed up", email: String? = nil, userId: String? = nil, seq: Int) -> Event {
        var user = JSONObject()
        if let email { user["email"] = .string(email) }
        if let userId { user["userId"] = .string(userId) }
        return try! Event.track(
            name: .string(name), user: .object(user), properties: ["seq": .integer(Int64(seq))], sourceIp: nil)
    }

    static func identify(email: String, userId: String) -> Event {
        try! Event.identify(user: ["email": .string(email), "userId": .string(userId)])
    }

    static func configuration(
        _ endpoint: String, _ tweak: (inout DeliveryConfiguration) -> Void = { _ in }
    ) -> DeliveryConfiguration {
        // Generous timeouts: on a 2-core CI machine the other suites' processes can stall the
        // loopback server for seconds, and a timed-out request that the server did accept is
        // rightly sent again (at least once), which these exact-count tests would read as a bug.
        var configuration = DeliveryConfiguration(
            endpoint: endpoint, writeKey: writeKey, userAgent: DeliveryConfiguration.userAgent(version: "9.9.9"),
            concurrency: 4, connectTimeout: 10, requestTimeout: 60, maxAttempts: 5, backoffBase: 0.001,
            backoffCap: 0.01)
        tweak(&configuration)
        return configuration
    }

    /// Runs a whole delivery on its own thread: one `submit` per group, then `finish`.
    static func deliver(
        _ groups: [[Event]], endpoint: String, finishTimeout: Double? = nil,
        _ tweak: (inout DeliveryConfiguration) -> Void = { _ in }
    ) async throws -> (stats: DeliveryStats, deadLetters: [DeadLetterEntry], deadLetterText: String) {
        let tmp = try TemporaryDirectory(prefix: "delivery")
        defer { tmp.cleanup() }
        let path = tmp.file("dead.jsonl")
        let writer = DeadLetterWriter(path: path)
        let engine = try DeliveryEngine(
            configuration: configuration(endpoint, tweak), deadLetters: writer,
            context: DeadLetterContext(rulesSHA256: "abc123"))
        let stats = try await onThread {
            for (index, group) in groups.enumerated() { engine.submit(group, source: "input.jsonl:\(index + 1)") }
            return engine.finish(timeout: finishTimeout)
        }
        let exists = FileManager.default.fileExists(atPath: path)
        let entries = exists ? try DeadLetterEntry.read(path: path) : []
        let text = exists ? try String(contentsOfFile: path, encoding: .utf8) : ""
        #expect(writer.count == entries.count)
        return (stats, entries, text)
    }

    /// Deterministic pseudo-random numbers (SplitMix64), so a failing order test can be rerun as is.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    // MARK: Success

    @Test func deliversEachEventWithTheIngestHeaders() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let events = (1...3).map { Self.track(email: "ann\($0)@example.com", seq: $0) }
            let result = try await Self.deliver([events], endpoint: endpoint)
            #expect(result.stats.delivered == 3)
            #expect(result.stats.submitted == 3)
            #expect(result.stats.deadLettered == 0)
            #expect(result.stats.queued == 0)
            #expect(result.deadLetterText.isEmpty)
            let received = server.received
            #expect(received.map(\.body) == events.map { $0.wireJSON() })
            for request in received {
                #expect(request.path == "/v1/")
                #expect(request.token == Self.writeKey)
                #expect(request.contentType == "application/json")
                #expect(request.userAgent == "encharge-lua/9.9.9")
            }
            #expect(result.stats.p50Latency > 0)
            #expect(result.stats.p99Latency >= result.stats.p50Latency)
            #expect(result.stats.eventsPerSecond > 0)
        }
    }

    @Test func reusesKeepAliveConnectionsAndBoundsConcurrency() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(2)) }) {
            server, endpoint in
            let groups = (0..<200).map { [Self.track(email: "p\($0)@example.com", seq: $0)] }
            let result = try await Self.deliver(groups, endpoint: endpoint) { $0.concurrency = 4 }
            #expect(result.stats.delivered == 200)
            #expect(server.maxInFlight <= 4)
            let connections = Set(server.received.compactMap(\.remotePort))
            #expect(connections.count <= 4, "each request opened a connection: \(connections.count)")
        }
    }

    @Test func sendsBodiesLongerThanTheSlotBufferWholeAndShortOnesAfterThem() async throws {
        // One slot (concurrency 1), so every body goes through the same buffer: a short one, one past
        // its initial capacity (it grows), then short and long again (the grown buffer is reused).
        try await ScriptedIngestServer.with { server, endpoint in
            func event(_ seq: Int, padding: Int) -> Event {
                try! Event.track(
                    name: "Signed up", user: ["email": "ann@example.com"],
                    properties: ["seq": .integer(Int64(seq)), "pad": .string(String(repeating: "x", count: padding))],
                    sourceIp: nil)
            }
            let events = [
                event(1, padding: 10), event(2, padding: 3 * 2048), event(3, padding: 20), event(4, padding: 9000),
            ]
            #expect(events[1].wireJSON().count > 2 * 2048)
            let result = try await Self.deliver([events], endpoint: endpoint) { $0.concurrency = 1 }
            #expect(result.stats.delivered == 4)
            #expect(server.received.map(\.body) == events.map { $0.wireJSON() })
        }
    }

    // MARK: Retries and dead letters

    @Test(arguments: [408, 425, 429, 500, 503])
    func retriesRetryableStatusesThenDelivers(status: Int) async throws {
        try await ScriptedIngestServer.with(script: { _, attempt in attempt <= 2 ? .status(status) : .ok }) {
            server, endpoint in
            let events = [Self.track(email: "ann@example.com", seq: 1), Self.track(email: "bob@example.com", seq: 2)]
            let result = try await Self.deliver(events.map { [$0] }, endpoint: endpoint)
            #expect(result.stats.delivered == 2)
            #expect(result.stats.retries == 4)
            #expect(result.stats.deadLettered == 0)
            #expect(server.received.count == 6)
            #expect(server.accepted.count == 2)
        }
    }

    @Test func honoursRetryAfterSeconds() async throws {
        try await ScriptedIngestServer.with(script: { _, attempt in
            attempt == 1 ? .status(429, retryAfter: "1") : .ok
        }) { server, endpoint in
            let start = ContinuousClock.now
            let result = try await Self.deliver([[Self.track(email: "ann@example.com", seq: 1)]], endpoint: endpoint) {
                $0.backoffBase = 0
                $0.backoffCap = 0
            }
            let elapsed = ContinuousClock.now - start
            #expect(result.stats.delivered == 1)
            #expect(server.received.count == 2)
            #expect(elapsed >= .milliseconds(900), "Retry-After: 1 was not honoured (\(elapsed))")
        }
    }

    @Test(arguments: [400, 401, 404, 413, 422])
    func deadLettersOtherClientErrorsWithoutRetrying(status: Int) async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(status, body: #"{"error":"bad user"}"#) }) {
            server, endpoint in
            let event = Self.track(email: "ann@example.com", seq: 7)
            let result = try await Self.deliver([[event]], endpoint: endpoint)
            #expect(server.received.count == 1)
            #expect(result.stats.deadLettered == 1)
            #expect(result.stats.retries == 0)
            let entry = try #require(result.deadLetters.first)
            #expect(entry.kind == .event)
            #expect(entry.event == event.jsonValue)
            #expect(entry.status == status)
            #expect(entry.body == #"{"error":"bad user"}"#)
            #expect(entry.attempts == 1)
            #expect(entry.reason?.contains("HTTP \(status)") == true)
            #expect(entry.source == "input.jsonl:1")
            #expect(entry.rulesSHA256 == "abc123")
        }
    }

    @Test func deadLettersAfterMaxAttempts() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(503, body: "down for maintenance") }) {
            server, endpoint in
            let event = Self.track(email: "ann@example.com", seq: 1)
            let result = try await Self.deliver([[event]], endpoint: endpoint) { $0.maxAttempts = 3 }
            #expect(server.received.count == 3)
            #expect(result.stats.retries == 2)
            #expect(result.stats.deadLettered == 1)
            let entry = try #require(result.deadLetters.first)
            #expect(entry.status == 503)
            #expect(entry.attempts == 3)
            #expect(entry.body == "down for maintenance")
            #expect(entry.reason == "gave up after 3 attempts: HTTP 503")
        }
    }

    @Test func connectionErrorsAreRetriedThenDeadLettered() async throws {
        // Port 1 on the loopback interface: nothing listens there, so connecting is refused at once.
        let event = Self.track(email: "ann@example.com", seq: 1)
        let result = try await Self.deliver([[event]], endpoint: "http://127.0.0.1:1/v1/") { $0.maxAttempts = 2 }
        #expect(result.stats.delivered == 0)
        #expect(result.stats.retries == 1)
        let entry = try #require(result.deadLetters.first)
        #expect(entry.status == nil)
        #expect(entry.attempts == 2)
        #expect(entry.reason?.hasPrefix("gave up after 2 attempts: Couldn't connect to server") == true)
    }

    @Test func keepsTheFirstBytesOfALongErrorBody() async throws {
        let long = String(repeating: "e", count: 5000)
        try await ScriptedIngestServer.with(script: { _, _ in .status(400, body: long) }) { _, endpoint in
            let result = try await Self.deliver([[Self.track(email: "ann@example.com", seq: 1)]], endpoint: endpoint)
            let entry = try #require(result.deadLetters.first)
            #expect(entry.body == String(repeating: "e", count: 512))
        }
    }

    // MARK: Order

    /// With one sender thread, and with three (3, 3 and 2 handles) sharing one schedule.
    @Test(arguments: [1, 3])
    func keepsPerPersonOrderUnderTenPercentFailures(senders: Int) async throws {
        // 1,200 events for 150 people in groups of 1-3 events, 10% of attempts answered 500.
        var random = SplitMix(state: 42)
        var groups: [[Event]] = []
        var seq = 0
        while seq < 1200 {
            let person = Int.random(in: 0..<150, using: &random)
            let size = min(Int.random(in: 1...3, using: &random), 1200 - seq)
            groups.append(
                (0..<size).map { _ in
                    seq += 1
                    return Self.track(email: "p\(person)@example.com", seq: seq)
                })
        }
        let submitted = groups
        try await ScriptedIngestServer.with(script: { request, attempt in
            Self.fnv(request.body + [UInt8(attempt)]) % 10 == 0 ? .status(500) : .ok
        }) { server, endpoint in
            let result = try await Self.deliver(submitted, endpoint: endpoint) {
                $0.concurrency = 8
                $0.senderThreads = senders
                $0.maxAttempts = 30
            }
            #expect(result.stats.delivered == 1200)
            #expect(result.stats.deadLettered == 0)
            #expect(result.stats.retries > 0)
            #expect(server.maxInFlight <= 8)
            let connections = Set(server.received.compactMap(\.remotePort))
            #expect(connections.count <= 8, "more connections than requests in flight: \(connections.count)")
            let accepted = server.accepted
            #expect(accepted.count == 1200)
            #expect(Set(accepted.compactMap(\.seq)).count == 1200, "an event was accepted twice")
            var lastSeq: [String: Int] = [:]
            for request in accepted {
                let person = try #require(request.person)
                let seq = try #require(request.seq)
                #expect(seq > lastSeq[person, default: 0], "\(person): event \(seq) overtook an earlier one")
                lastSeq[person] = seq
            }
        }
    }

    /// With one sender thread, and with four, where the two lanes may well be sent by two threads.
    @Test(arguments: [1, 4])
    func identifyIsNeverOvertakenByTheTrackOfTheSameSubmit(senders: Int) async throws {
        // identify carries userId (its key) and the track only email (another key): they land in
        // different lanes, yet the track must wait. Every identify first fails, then answers slowly.
        let people = 60
        let groups = (0..<people).map { person in
            [
                Self.identify(email: "p\(person)@example.com", userId: "u\(person)"),
                Self.track(email: "p\(person)@example.com", seq: person),
            ]
        }
        try await ScriptedIngestServer.with(script: { request, attempt in
            guard request.name == "identify" else { return .ok }
            return attempt == 1 ? .status(503) : IngestReply(delay: .milliseconds(20))
        }) { server, endpoint in
            let result = try await Self.deliver(groups, endpoint: endpoint) {
                $0.concurrency = 8
                $0.senderThreads = senders
            }
            #expect(result.stats.delivered == 2 * people)
            var identified = Set<String>()
            for request in server.accepted {
                let email = try #require(request.json?["user"]?["email"]?.stringValue)
                if request.name == "identify" {
                    identified.insert(email)
                } else {
                    #expect(identified.contains(email), "track for \(email) overtook its identify")
                }
            }
        }
    }

    @Test func laterSubmitsOfAPersonWaitForItsRetriesWhileOthersGoAhead() async throws {
        try await ScriptedIngestServer.with(script: { request, attempt in
            request.seq == 1 && attempt <= 3 ? .status(503) : .ok
        }) { server, endpoint in
            let groups = [
                [Self.track(email: "ann@example.com", seq: 1)],
                [Self.track(email: "ANN@example.com", seq: 2)],  // the same person: keys are lower-cased
                [Self.track(email: "bob@example.com", seq: 3)],
            ]
            let result = try await Self.deliver(groups, endpoint: endpoint) {
                $0.backoffBase = 0.05; $0.backoffCap = 0.05
            }
            #expect(result.stats.delivered == 3)
            let order = server.accepted.compactMap(\.seq)
            #expect(order.firstIndex(of: 1)! < order.firstIndex(of: 2)!)
            #expect(order.first == 3, "bob waited for ann's retries: \(order)")
        }
    }

    // MARK: Stopping on its own: a refused write key, a redirect

    /// The seq of each dead-lettered event, in file order.
    static func seqs(_ entries: [DeadLetterEntry]) -> [Int] {
        entries.compactMap { entry -> Int? in
            if case .integer(let seq)? = entry.event?["properties"]?["seq"] { return Int(seq) }
            return nil
        }
    }

    @Test(arguments: [401, 403])
    func aRefusedWriteKeyStopsDeliveryAfterThreeRefusalsInARow(status: Int) async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(status, body: #"{"error":"bad token"}"#) }) {
            server, endpoint in
            // Two people, so the dead-letter file must keep each one's order.
            let groups = (1...60).map { [Self.track(email: "p\($0 % 2)@example.com", seq: $0)] }
            let result = try await Self.deliver(groups, endpoint: endpoint) { $0.concurrency = 1 }
            #expect(server.received.count == 3, "no request after the third refusal")
            #expect(result.stats.stop == .writeKeyRefused(status: status))
            #expect(result.stats.writeKeyRefused == status)
            #expect(result.stats.deadLettered == 60)
            #expect(Self.seqs(result.deadLetters) == Array(1...60))
            let reason = "the Ingest API refused the write key (HTTP \(status))"
            #expect(result.deadLetters.allSatisfy { $0.reason == reason })
            #expect(result.deadLetters.prefix(3).allSatisfy { $0.status == status && $0.attempts == 1 })
            #expect(result.deadLetters.dropFirst(3).allSatisfy { $0.status == nil && $0.attempts == 0 })
            #expect(
                DeliveryStop.writeKeyRefused(status: status).message(writeKeySource: "--write-key-file k.txt")
                    == "\(reason); check --write-key-file k.txt")
        }
    }

    @Test func aFinishTimeoutAbandonsARequestLeftOnTheWireAfterARefusal() async throws {
        let tmp = try TemporaryDirectory(prefix: "delivery")
        defer { tmp.cleanup() }
        try await ScriptedIngestServer.with(script: { request, _ in
            request.seq == 4 ? IngestReply(delay: .seconds(3)) : .status(401)
        }) { server, endpoint in
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint) {
                    $0.concurrency = 4
                    $0.requestTimeout = 60
                }, deadLetters: DeadLetterWriter(path: tmp.file("dead.jsonl")), context: .init())
            try await onThread {
                for seq in 1...4 { engine.submit([Self.track(email: "p\(seq)@example.com", seq: seq)], source: "s") }
            }
            try #require(await eventually("the refused key stops the engine") { engine.stop != nil })
            let (stats, elapsed) = try await onThread { () -> (DeliveryStats, Duration) in
                let start = ContinuousClock.now
                let stats = engine.finish(timeout: 0.3)
                return (stats, ContinuousClock.now - start)
            }
            #expect(elapsed < .seconds(2), "the request still on the wire was waited for")
            #expect(stats.stop == .writeKeyRefused(status: 401))
            #expect(stats.deadLettered == 4)
            #expect(server.received.count == 4)
        }
    }

    @Test func aSuccessBetweenRefusalsKeepsDeliveryGoing() async throws {
        // Every third request (in arrival order) succeeds: never three refusals in a row.
        let arrivals = Mutex(0)
        try await ScriptedIngestServer.with(script: { _, _ in
            arrivals.withLock { count in
                count += 1
                return count % 3 == 0 ? .ok : .status(401)
            }
        }) { server, endpoint in
            let groups = (1...30).map { [Self.track(email: "p\($0)@example.com", seq: $0)] }
            let result = try await Self.deliver(groups, endpoint: endpoint) { $0.concurrency = 1 }
            #expect(server.received.count == 30)
            #expect(result.stats.stop == nil)
            #expect(result.stats.delivered == 10)
            #expect(result.stats.deadLettered == 20)
        }
    }

    @Test func eventsOfAStoppedEngineAreSettledAsInterruptedSoASpoolKeepsThem() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(401) }) { server, endpoint in
            let outcomes = Mutex<[Int64: DeliveryOutcome]>([:])
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint) { $0.concurrency = 1 }, deadLetters: nil, context: .init(),
                onSettled: { tag, outcome in outcomes.withLock { $0[tag] = outcome } })
            let stats = try await onThread { () -> DeliveryStats in
                for seq in 1...10 {
                    engine.submit([Self.track(email: "p\(seq)@example.com", seq: seq)], source: "s", tags: [Int64(seq)])
                }
                return engine.finish(timeout: nil)
            }
            #expect(stats.writeKeyRefused == 401)
            #expect(engine.stop == .writeKeyRefused(status: 401))
            let settled = outcomes.withLock { $0 }
            #expect(settled.count == 10)
            for (tag, outcome) in settled {
                guard case .interrupted(let error) = outcome else {
                    Issue.record("tag \(tag): \(outcome)")
                    continue
                }
                #expect(error.kind == .writeKeyRefused)
            }
        }
    }

    @Test(arguments: [(307, true), (308, false)])
    func followsASameOriginRedirectWithTheMethodBodyAndToken(status: Int, absolute: Bool) async throws {
        let location = Mutex("")
        try await ScriptedIngestServer.with(script: { request, _ in
            request.path == "/v1/" ? .redirect(status, to: location.withLock { $0 }) : .ok
        }) { server, endpoint in
            location.withLock { $0 = absolute ? endpoint.replacingOccurrences(of: "/v1/", with: "/moved/") : "/moved/" }
            let events = (1...5).map { Self.track(email: "ann@example.com", seq: $0) }
            let result = try await Self.deliver([events], endpoint: endpoint)
            #expect(result.stats.delivered == 5)
            #expect(result.stats.stop == nil)
            #expect(result.deadLetters.isEmpty)
            let accepted = server.accepted
            #expect(accepted.map(\.path) == Array(repeating: "/moved/", count: 5))
            #expect(accepted.map(\.body) == events.map { $0.wireJSON() })
            #expect(accepted.allSatisfy { $0.token == Self.writeKey && $0.contentType == "application/json" })
            #expect(server.received.count == 10)
        }
    }

    @Test(arguments: [307, 308, 302])
    func aRedirectElsewhereStopsDeliveryWithoutSendingTheToken(status: Int) async throws {
        let location = Mutex("")
        try await ScriptedIngestServer.with(script: { request, _ in
            request.path == "/v1/" ? .redirect(status, to: location.withLock { $0 }) : .ok
        }) { server, endpoint in
            // Another host name for the same server: following would reach it, with the token.
            let elsewhere = endpoint.replacingOccurrences(of: "127.0.0.1", with: "localhost")
                .replacingOccurrences(of: "/v1/", with: status == 302 ? "/v1/" : "/v2/")
            let target = status == 302 ? endpoint.replacingOccurrences(of: "/v1/", with: "/v2/") : elsewhere
            location.withLock { $0 = target }
            let groups = (1...20).map { [Self.track(email: "p\($0)@example.com", seq: $0)] }
            let result = try await Self.deliver(groups, endpoint: endpoint) { $0.concurrency = 2 }
            #expect(server.received.allSatisfy { $0.path == "/v1/" }, "the redirect was followed")
            #expect(server.received.count <= 2, "nothing is sent after the first redirect")
            #expect(result.stats.stop == .redirected(status: status, location: target))
            #expect(result.stats.deadLettered == 20)
            #expect(Set(Self.seqs(result.deadLetters)) == Set(1...20))
            let reason = "the endpoint redirects to \(target); pass that as --endpoint"
            #expect(result.deadLetters.allSatisfy { $0.reason == reason })
        }
    }

    // MARK: Secrets

    @Test func writeKeyNeverReachesDeadLettersOrErrors() async throws {
        let tmp = try TemporaryDirectory(prefix: "delivery")
        defer { tmp.cleanup() }
        let key = Self.writeKey
        // The server echoes the token back: whole in short bodies, cut in half at byte 512 in a long one.
        try await ScriptedIngestServer.with(script: { request, _ in
            switch request.seq {
            case 1: .status(400, body: "invalid token \(request.token ?? "")")
            case 2: .status(503, body: "{\"token\":\"\(request.token ?? "")\"}")
            default: .status(400, body: String(repeating: "x", count: 500) + (request.token ?? ""))
            }
        }) { _, endpoint in
            let events = (1...3).map { Self.track(email: "p\($0)@example.com", seq: $0) }
            let result = try await Self.deliver(events.map { [$0] }, endpoint: endpoint) { $0.maxAttempts = 2 }
            #expect(result.stats.deadLettered == 3)
            #expect(!result.deadLetterText.isEmpty)
            #expect(!result.deadLetterText.contains(key))
            #expect(!result.deadLetterText.contains(String(key.prefix(8))))
            #expect(result.deadLetterText.contains("[redacted]"))
        }
        var bad = Self.configuration("ftp://127.0.0.1/v1/")
        bad.writeKey = key
        let error = #expect(throws: DeliveryError.self) {
            _ = try DeliveryEngine(
                configuration: bad, deadLetters: DeadLetterWriter(path: tmp.file("dead.jsonl")), context: .init())
        }
        #expect(error?.kind == .configuration)
        #expect(error.map { !"\($0)".contains(key) } == true)
    }

    // MARK: Finishing and backpressure

    @Test func finishTimeoutDeadLettersWhatIsLeft() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(1000)) }) {
            server, endpoint in
            let groups = (1...20).map { [Self.track(email: "p\($0)@example.com", seq: $0)] }
            let start = ContinuousClock.now
            let result = try await Self.deliver(groups, endpoint: endpoint, finishTimeout: 0.1) { $0.concurrency = 2 }
            // Sending everything would take 10 s; the bound is loose for loaded CI machines.
            #expect(ContinuousClock.now - start < .seconds(7))
            #expect(result.stats.delivered + result.stats.deadLettered == 20)
            // Issue 7: the deadline bounds the wait, so the two requests on the wire are abandoned too.
            #expect(result.stats.delivered == 0)
            #expect(result.stats.deadLettered == 20)
            #expect(result.deadLetters.allSatisfy { $0.reason == "interrupted" })
            let delivered = Set(server.accepted.compactMap(\.seq))
            let deadLettered = Set(
                result.deadLetters.compactMap { entry -> Int? in
                    if case .integer(let seq)? = entry.event?["properties"]?["seq"] { return Int(seq) }
                    return nil
                })
            #expect(delivered.isDisjoint(with: deadLettered))
            #expect(delivered.union(deadLettered) == Set(1...20))
        }
    }

    @Test func finishTimeoutInterruptsABackoff() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in .status(429, body: "slow down", retryAfter: "30") }) {
            server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "delivery")
            defer { tmp.cleanup() }
            let path = tmp.file("dead.jsonl")
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint), deadLetters: DeadLetterWriter(path: path), context: .init()
            )
            let start = ContinuousClock.now
            try await onThread {
                engine.submit(
                    [Self.track(email: "ann@example.com", seq: 1), Self.track(email: "ann@example.com", seq: 2)],
                    source: "input.jsonl:1")
            }
            // The deadline must fall in the backoff, not while the first attempt is on the wire.
            try #require(await eventually("the first attempt is answered 429") { engine.stats().retries > 0 })
            try await onThread { _ = engine.finish(timeout: 0.3) }
            // Honouring Retry-After: 30 would take 30 s; the bound is loose for loaded CI machines.
            #expect(ContinuousClock.now - start < .seconds(15))
            #expect(server.received.count == 1)
            let deadLetters = try DeadLetterEntry.read(path: path)
            #expect(deadLetters.count == 2)
            let first = try #require(deadLetters.first)
            #expect(first.reason == "interrupted")
            #expect(first.status == 429)
            #expect(first.body == "slow down")
            #expect(first.attempts == 1)
            #expect(deadLetters.last?.attempts == 0)
        }
    }

    @Test func submitBlocksWhileTheQueueIsFull() async throws {
        let tmp = try TemporaryDirectory(prefix: "delivery")
        defer { tmp.cleanup() }
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(10)) }) {
            server, endpoint in
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint) {
                    $0.concurrency = 1
                    $0.maxQueuedEvents = 3
                }, deadLetters: DeadLetterWriter(path: tmp.file("dead.jsonl")), context: .init())
            let highest = try await onThread { () -> Int in
                var highest = 0
                for seq in 1...12 {
                    engine.submit([Self.track(email: "p\(seq)@example.com", seq: seq)], source: "s:\(seq)")
                    highest = max(highest, engine.stats().queued)
                }
                _ = engine.finish(timeout: nil)
                return highest
            }
            #expect(highest <= 3)
            #expect(engine.stats().delivered == 12)
            #expect(server.maxInFlight == 1)
        }
    }

    @Test func aSubmitBlockedOnAFullQueueResumesOnceAQuarterOfItDrained() async throws {
        // Limit 12: a blocked submit waits until at most 9 events are queued, so the submitter
        // wakes once per 3 delivered events and then fills the queue without blocking. So about
        // one submit in three returns with the queue full (more only when an event is delivered
        // in the moment between a submit and the next, rare at 20 ms per request). A submitter
        // that resumed for every delivered event would return with the queue full every time
        // once it filled: 84 of these 96.
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .milliseconds(20)) }) {
            server, endpoint in
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint) {
                    $0.concurrency = 1
                    $0.maxQueuedEvents = 12
                }, deadLetters: nil, context: .init())
            let queuedAfterEachSubmit = try await onThread { () -> [Int] in
                var queued: [Int] = []
                for seq in 1...96 {
                    engine.submit([Self.track(email: "p\(seq)@example.com", seq: seq)], source: "s:\(seq)")
                    queued.append(engine.stats().queued)
                }
                _ = engine.finish(timeout: nil)
                return queued
            }
            #expect(queuedAfterEachSubmit.max() == 12, "the queue filled: \(queuedAfterEachSubmit)")
            let full = queuedAfterEachSubmit.filter { $0 == 12 }.count
            #expect(full <= 56, "\(full) submits returned with the queue full: \(queuedAfterEachSubmit)")
            #expect(engine.stats().delivered == 96)
            #expect(server.accepted.count == 96)
        }
    }

    @Test func anInterruptWakesASubmitBlockedOnAFullQueueAndAbandonsTheWire() async throws {
        try await ScriptedIngestServer.with(script: { _, _ in IngestReply(delay: .seconds(3)) }) { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "delivery")
            defer { tmp.cleanup() }
            let path = tmp.file("dead.jsonl")
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint) {
                    $0.concurrency = 1
                    $0.maxQueuedEvents = 3
                    $0.requestTimeout = 60
                }, deadLetters: DeadLetterWriter(path: path), context: .init())
            let submitting = Task.detached {
                try await onThread { () -> DeliveryStats in
                    for seq in 1...10 {
                        engine.submit([Self.track(email: "p\(seq % 2)@example.com", seq: seq)], source: "s")
                    }
                    return engine.finish(timeout: nil)
                }
            }
            // Wait until the queue is full and a request hangs on the wire.
            await eventually("a request hangs on the wire and the queue fills", timeout: .seconds(10)) {
                !server.received.isEmpty && engine.stats().submitted >= 3
            }
            #expect(engine.stats().submitted == 3, "submit blocks on the full queue")
            let start = ContinuousClock.now
            engine.interrupt(drainTimeout: 0.2)
            let stats = try await submitting.value
            #expect(ContinuousClock.now - start < .seconds(2), "neither the full queue nor the wire delays the stop")
            #expect(stats.submitted == 10)
            #expect(stats.delivered == 0)
            #expect(stats.deadLettered == 10)
            let entries = try DeadLetterEntry.read(path: path)
            #expect(entries.allSatisfy { $0.reason == "interrupted" })
            // Per person (odd and even seqs), the dead letters keep submit order.
            let seqs = Self.seqs(entries)
            #expect(seqs.filter { $0 % 2 == 0 } == [2, 4, 6, 8, 10])
            #expect(seqs.filter { $0 % 2 == 1 } == [1, 3, 5, 7, 9])
        }
    }

    @Test func submitAfterFinishIsDeadLettered() async throws {
        try await ScriptedIngestServer.with { server, endpoint in
            let tmp = try TemporaryDirectory(prefix: "delivery")
            defer { tmp.cleanup() }
            let path = tmp.file("dead.jsonl")
            let engine = try DeliveryEngine(
                configuration: Self.configuration(endpoint), deadLetters: DeadLetterWriter(path: path), context: .init()
            )
            let stats = try await onThread { () -> DeliveryStats in
                _ = engine.finish(timeout: nil)
                engine.submit([Self.track(email: "late@example.com", seq: 1)], source: "late:1")
                return engine.stats()
            }
            #expect(stats.submitted == 1)
            #expect(stats.deadLettered == 1)
            #expect(server.received.isEmpty)
            let entry = try #require(try DeadLetterEntry.read(path: path).first)
            #expect(entry.source == "late:1")
            #expect(entry.reason?.hasPrefix("interrupted") == true)
        }
    }
}
