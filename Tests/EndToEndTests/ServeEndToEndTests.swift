import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

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
            [
                "serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint", mock.endpoint,
                "--backoff-base", "0.05", "--backoff-cap", "0.5",
            ] + extra,
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey].merging(environment) { $1 })
    }

    /// The `seq` property of every recorded event, in arrival order.
    func recordedSeqs(_ mock: MockIngestProcess) -> [Int] {
        mock.received().compactMap { ($0["properties"] as? [String: Any])?["seq"] as? Int }
    }

    /// Waits up to `timeout` until the mock recorded an event with property `seq`.
    func waitForSeq(_ seq: Int, _ mock: MockIngestProcess, timeout: Duration = .seconds(10)) async -> Bool {
        await eventually("the mock recorded seq \(seq)", timeout: timeout) { recordedSeqs(mock).contains(seq) }
    }

    func expectNoSecrets(_ serve: ServeProcess, _ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation)
    {
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

    // MARK: 1. Rule errors and replay

    @Test(.timeLimit(.minutes(2)))
    func aRuleErrorAnswers500AndReplayDeliversTheKeptRequestOnceFixed() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let spool = tmp.path + "/spool.sqlite"
        let broken = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req)
              local plan = req.json.subscription.plan
              encharge.track("Subscribed", { email = req.json.email }, { plan = plan, seq = req.json.seq })
            end
            """)
        let fixed = try tmp.write(
            "fixed.lua",
            """
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
        #expect(await waitForSeq(2, mock))

        // Replay next to the running server: it spools the events, the server delivers them.
        let live = try Binary.run(
            ["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stderr.contains("1 failed request replayed"), "\(live.stderr)")
        #expect(await waitForSeq(1, mock), "the running server delivers what replay spooled")
        let replayed = mock.received().first { ($0["properties"] as? [String: Any])?["seq"] as? Int == 1 }
        #expect((replayed?["user"] as? [String: Any])?["email"] as? String == "f1@example.com")
        #expect((replayed?["properties"] as? [String: Any])?["plan"] as? String == "free")

        // Replay while the server is stopped: the next serve delivers.
        let delivery = ("webhook-id", "msg_replayed_3")
        let failedAgain = try serve.postJSON("/billing", #"{"email":"f3@example.com","seq":3}"#, headers: [delivery])
        #expect(failedAgain.status == 500)
        #expect(serve.stop() == 0, "SIGTERM is a graceful exit: \(serve.stderr)")
        let offline = try Binary.run(
            ["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stderr.contains("1 failed request replayed"), "\(offline.stderr)")
        serve = try startServe(fixed, tmp, mock)
        #expect(await waitForSeq(3, mock))
        // The sender's own retry of that delivery, now that it was replayed, is a duplicate.
        let retry = try serve.postJSON("/billing", #"{"email":"f3@example.com","seq":3}"#, headers: [delivery])
        #expect(retry.status == 200, "\(retry)")
        #expect(retry.json?["duplicate"] as? Bool == true)

        // Nothing is kept any more, and nothing was delivered twice.
        let nothing = try Binary.run(
            ["replay", "--spool", spool, "--rules", fixed], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(nothing.status == 0)
        #expect(nothing.stderr.contains("0 failed requests replayed"), "\(nothing.stderr)")
        // No condition marks that nothing more arrives: this is the window in which a wrong second
        // delivery would show.
        try await Task.sleep(for: .seconds(1.5))
        #expect(recordedSeqs(mock).sorted() == [1, 2, 3])
    }

    // MARK: 2. SIGHUP

    @Test(.timeLimit(.minutes(2)))
    func sighupReloadsTheRuleAndABrokenRuleLeavesTheLastGoodOneServing() async throws {
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
                    let reply = try? RawHTTPConnection.postJSON(
                        port: port, "/", #"{"email":"h\#(i)@example.com","seq":\#(i)}"#)
                    log.add(seq: i, status: reply?.status ?? -1)
                }
            }
            return log.all.map(\.status)
        }
        func names(_ range: ClosedRange<Int>) -> Set<String> {
            Set(
                mock.received().compactMap { event -> String? in
                    guard let s = (event["properties"] as? [String: Any])?["seq"] as? Int, range.contains(s) else {
                        return nil
                    }
                    return event["name"] as? String
                })
        }

        #expect(burst(6).allSatisfy { $0 == 202 })
        #expect(await waitForSeq(6, mock))
        #expect(names(1...6) == ["Event v1"])

        _ = try tmp.write("rules.lua", rule("v2"))
        serve.signal(SIGHUP)
        await eventually("\(serve.stderr)", timeout: .seconds(10)) { serve.stderr.contains("rules reloaded") }
        // One request after the reload (one worker picks up v2).
        #expect(burst(1) == [202])
        #expect(await waitForSeq(7, mock))
        #expect(names(7...7) == ["Event v2"])

        _ = try tmp.write("rules.lua", "function on_webhook(req)\n  encharge.track(\"Event v3\", \n")
        serve.signal(SIGHUP)
        await eventually("\(serve.stderr)", timeout: .seconds(10)) { serve.stderr.contains("rules not reloaded") }
        #expect(serve.stderr.contains("rules.lua"), "the refusal names the file")
        #expect(burst(12).allSatisfy { $0 == 202 }, "a broken rule on disk does not break serving")
        #expect(await waitForSeq(19, mock))
        try #require(
            await eventually("the mock recorded seqs 8...19", timeout: .seconds(10)) {
                Set(recordedSeqs(mock)).isSuperset(of: 8...19)
            })
        // Workers that had not served since the v2 reload must load v2, not the broken file on disk.
        #expect(names(8...19) == ["Event v2"], "after a refused reload every worker serves the last good rule (v2)")
    }

    // MARK: 3. Crash

    @Test(.timeLimit(.minutes(3)))
    func killingTheServerLosesNoAcceptedEvent() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // A slow Ingest API so that a backlog is still in the spool when the server dies.
        let mock = try startMock(tmp, ["--latency-ms", "100"])
        defer { mock.stop() }
        let rules = try tmp.write(
            "rules.lua",
            """
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
                let reply = try? RawHTTPConnection.postJSON(port: port, "/tick", #"{"seq":\#(seq)}"#)
                log.add(seq: seq, status: reply?.status ?? -1)
            }
        }
        serve.kill9()
        let deliveredAtKill = Set(recordedSeqs(mock))
        let accepted = Set(log.all.filter { (200..<300).contains($0.status) }.map(\.seq))
        #expect(
            accepted.count == total,
            "every request was answered 2xx: \(log.all.filter { !(200..<300).contains($0.status) })")
        #expect(
            deliveredAtKill.count < accepted.count, "a backlog was left for the restart (else this test proves nothing)"
        )

        serve = try startServe(rules, tmp, mock, ["--concurrency", "8"])
        let complete = await eventually("every accepted event was delivered", timeout: .seconds(20)) {
            Set(recordedSeqs(mock)).isSuperset(of: accepted)
        }
        let missing = accepted.subtracting(recordedSeqs(mock)).sorted()
        #expect(
            complete,
            "events of accepted requests lost after kill -9: \(missing.count) missing, e.g. \(missing.prefix(10))")
        // At least once, never invented: nothing that was not accepted.
        #expect(Set(recordedSeqs(mock)).isSubset(of: Set(1...total)))
        // The spool records deliveries in its writer's next commit (settlements gather for up to
        // 20 ms), so the depth reaches 0 shortly after the last event arrived.
        var metrics = ""
        let drained = try await eventually("the spool's depth reaches 0", timeout: .seconds(10)) {
            metrics = try serve.send("GET", "/metrics").text
            return metrics.contains("encharge_spool_depth 0\n")
        }
        #expect(drained, "\(metrics)")
    }

    // MARK: 4. Secrets

    @Test(.timeLimit(.minutes(2)))
    func writeKeyAndSecretsNeverAppearInServeOutput() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // The mock expects another key: delivery pauses on the refused key (401), the event kept pending.
        let mock = try MockIngestProcess(["--write-key", "the-key-the-mock-expects"], in: tmp)
        defer { mock.stop() }
        let signing = "hmac-signing-secret-0f3b7e"
        let token = "bearer-token-c81d2a"
        let setting = "lua-setting-secret-66ad"
        let rules = try tmp.write(
            "rules.lua",
            """
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
            [
                "--verify", "hmac", "--hmac-header", "X-Body-Signature", "--secret-file",
                try tmp.write("s.txt", signing),
                "--auth-token-file", try tmp.write("t.txt", token + "\n"), "--set", "api_secret=" + setting,
                "--max-attempts", "1",
            ])
        defer { serve.kill9() }
        func post(_ json: String, bearer: String?, secret: String = signing, path: String = "/") throws -> HTTPReply {
            let body = Array(json.utf8)
            var headers = [
                ("Content-Type", "application/json"),
                ("X-Body-Signature", Signing.hex(Signing.hmacSHA256(key: Array(secret.utf8), message: body))),
            ]
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
        let paused = await eventually("delivery paused on the refused key: \(serve.stderr)", timeout: .seconds(15)) {
            serve.stderr.contains("refused the write key (HTTP 401)")
        }
        #expect(paused)
        #expect(((try? serve.send("GET", "/metrics"))?.text ?? "").contains("encharge_spool_depth 1"))
        #expect(((try? serve.send("GET", "/metrics"))?.text ?? "").contains("encharge_spool_dead 0"))
        let exit = serve.stop()
        #expect(exit == 0)
        let lines = serve.stdout.split(separator: "\n")
        #expect(
            lines.count == 1 && lines[0].hasPrefix("encharge-lua serve listening on http://127.0.0.1:"),
            "\(serve.stdout)")
        for secret in [Self.writeKey, signing, token, setting] {
            #expect(!serve.output.contains(secret), "serve printed a secret")
            #expect(!replies.contains { $0.text.contains(secret) }, "a response shows a secret")
        }
        // Replay of the spool also keeps the key to itself.
        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite"], environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(!replay.stdout.contains(Self.writeKey) && !replay.stderr.contains(Self.writeKey))
    }

    // MARK: 5. Graceful shutdown

    @Test(.timeLimit(.minutes(2)))
    func sigtermFinishesTheRequestInFlightAndLosesNothing() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_webhook(req)
              if req.json.slow then
                log.info("slow request started")
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
            let reply = try? RawHTTPConnection.postJSON(port: port, "/", #"{"seq":2,"slow":true}"#)
            log.add(seq: 2, status: reply?.status ?? -1)
            done.signal()
        }
        await eventually("the slow request is running: \(serve.stderr)") {
            serve.stderr.contains("slow request started")
        }
        serve.signal(SIGTERM)
        #expect(done.wait(timeout: .now() + 15) == .success)
        #expect(log.all.first?.status == 202, "the request in flight at SIGTERM is answered: \(log.all)")
        #expect(serve.waitForExit(timeout: 20))
        #expect(serve.process.terminationStatus == 0, "\(serve.stderr)")

        // Delivered before exit, or left in the spool for the next start: never lost.
        serve = try startServe(rules, tmp, mock)
        #expect(await waitForSeq(2, mock), "the answered request's event is delivered")
        #expect(recordedSeqs(mock) == [1, 2])
    }
}
