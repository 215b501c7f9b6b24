import CCurl
import Foundation
import JSONKit
import Testing

@testable import EnchargeKit

/// The engine's parts on their own: retry classification and backoff, Retry-After, redaction, the
/// lane schedule, the latency histogram and configuration checks.
@Suite(.timeLimit(.minutes(1)))
struct DeliveryPartsTests {
    static func track(email: String? = nil, userId: String? = nil, seq: Int) -> Event {
        var user = JSONObject()
        if let email { user["email"] = .string(email) }
        if let userId { user["userId"] = .string(userId) }
        return try! Event.track(
            name: "Seen", user: .object(user), properties: ["seq": .integer(Int64(seq))], sourceIp: nil)
    }

    static let policy = RetryPolicy(
        DeliveryConfiguration(
            endpoint: "http://127.0.0.1/v1/", writeKey: "k", userAgent: "t", maxAttempts: 8, backoffBase: 0.5,
            backoffCap: 30, maxRetryAfter: 300))

    // MARK: Retry policy

    @Test(arguments: [
        (200, "delivered"), (201, "delivered"), (204, "delivered"),
        (408, "retry"), (425, "retry"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"), (599, "retry"),
        (301, "terminal"), (400, "terminal"), (401, "refused"), (403, "refused"), (404, "terminal"),
        (409, "terminal"), (413, "terminal"), (422, "terminal"),
    ])
    func classifiesStatuses(status: Int, expected: String) {
        let verdict = Self.policy.verdict(for: .response(status: status, retryAfter: nil, body: "b"))
        switch verdict {
        case .delivered: #expect(expected == "delivered")
        case .retry: #expect(expected == "retry")
        case .terminal(let error):
            #expect(expected == "terminal")
            #expect(error.status == status)
            #expect(error.body == "b")
        case .refused(let refusedStatus, let error):
            #expect(expected == "refused")
            #expect(refusedStatus == status)
            #expect(error.kind == .writeKeyRefused)
            #expect(error.message == "the Ingest API refused the write key (HTTP \(status))")
            #expect(error.body == "b")
        case .redirected:
            Issue.record("a response without a redirect URL is not a redirect")
        }
    }

    @Test func aRedirectThatWasNotFollowedStopsDelivery() {
        let verdict = Self.policy.verdict(for: .redirect(status: 308, location: "https://other.example/v1/"))
        let stop = DeliveryStop.redirected(status: 308, location: "https://other.example/v1/")
        #expect(
            verdict
                == .redirected(
                    stop,
                    DeliveryError(
                        kind: .redirected,
                        message: "the endpoint redirects to https://other.example/v1/; pass that as --endpoint",
                        status: 308)))
    }

    @Test(arguments: [
        ("https://ingest.encharge.io/v1/", "https://ingest.encharge.io:443"),
        ("HTTPS://Ingest.Encharge.IO:443/other", "https://ingest.encharge.io:443"),
        ("http://127.0.0.1:8089/v1/", "http://127.0.0.1:8089"),
        ("http://127.0.0.1/v1/", "http://127.0.0.1:80"),
    ])
    func originsCompareSchemeHostAndPort(url: String, origin: String) {
        #expect(IngestTransport.origin(of: url) == origin)
    }

    @Test func connectionErrorsRetryButUntrustedServersDoNot() {
        #expect(
            Self.policy.verdict(for: .failure(code: CURLE_COULDNT_CONNECT, message: "refused"))
                == .retry(after: nil, DeliveryError(kind: .exhausted, message: "refused")))
        if case .retry = Self.policy.verdict(for: .failure(code: CURLE_OPERATION_TIMEDOUT, message: "t")) {
        } else {
            Issue.record("a timeout must be retried")
        }
        if case .terminal(let error) = Self.policy.verdict(
            for: .failure(code: CURLE_PEER_FAILED_VERIFICATION, message: "cert"))
        {
            #expect(error.kind == .transport)
        } else {
            Issue.record("a TLS verification failure must not be retried")
        }
    }

    @Test func backoffIsFullJitterUnderTheCap() {
        for failures in 1...12 {
            let ceiling = min(30, 0.5 * pow(2, Double(failures - 1)))
            for _ in 0..<200 {
                let delay = Self.policy.delay(afterFailures: failures, retryAfter: nil)
                #expect(delay >= 0 && delay <= ceiling)
            }
        }
        // Full jitter spreads retries: 200 draws are not all in the upper half.
        let draws = (0..<200).map { _ in Self.policy.delay(afterFailures: 4, retryAfter: nil) }
        #expect(draws.contains { $0 < 2 })
        #expect(Self.policy.delay(afterFailures: 3, retryAfter: 7) == 7)
    }

    @Test func readsRetryAfterSecondsAndHTTPDates() {
        let now = time_t(1_445_412_450)  // Wed, 21 Oct 2015 07:27:30 GMT
        #expect(RetryPolicy.retryAfterSeconds("120", now: now) == 120)
        #expect(RetryPolicy.retryAfterSeconds(" 0 ", now: now) == 0)
        #expect(RetryPolicy.retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == 30)
        #expect(RetryPolicy.retryAfterSeconds("Wednesday, 21-Oct-15 07:28:00 GMT", now: now) == 30)
        #expect(RetryPolicy.retryAfterSeconds("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == 0)
        #expect(RetryPolicy.retryAfterSeconds("soon", now: now) == nil)
        #expect(RetryPolicy.retryAfterSeconds("", now: now) == nil)
        let capped = Self.policy.verdict(for: .response(status: 429, retryAfter: "86400", body: ""), now: now)
        #expect(
            capped == .retry(after: 300, DeliveryError(kind: .exhausted, message: "HTTP 429", status: 429, body: "")))
    }

    // MARK: Redaction

    @Test func redactsTheWriteKeyWholeAndCutShort() {
        let redactor = SecretRedactor(secret: "sk_abcdef123456")
        #expect(redactor.redact("token sk_abcdef123456 is invalid") == "token [redacted] is invalid")
        #expect(redactor.redact("a sk_abcdef123456 b sk_abcdef123456") == "a [redacted] b [redacted]")
        #expect(redactor.redact("...body cut at sk_abcd") == "...body cut at [redacted]")
        #expect(redactor.redact("ends with sk_") == "ends with sk_")
        #expect(redactor.redact("nothing here") == "nothing here")
    }

    @Test func redactsTheWriteKeyInAnyCase() {
        let redactor = SecretRedactor(secret: "sk_abcdef123456")
        #expect(redactor.redact("X-ENCHARGE-TOKEN: SK_ABCDEF123456") == "X-ENCHARGE-TOKEN: [redacted]")
        #expect(redactor.redact("token Sk_AbCdEf123456.") == "token [redacted].")
        #expect(redactor.redact("cut at SK_ABCD") == "cut at [redacted]")
    }

    /// The key's bytes as hex, as a server dumping headers might echo them, in either case.
    @Test func redactsTheWriteKeyInHex() {
        let redactor = SecretRedactor(secret: "sk_abcdef123456")
        let hex = "sk_abcdef123456".utf8.map { String($0, radix: 16) }.joined()
        #expect(redactor.redact("header bytes: \(hex) end") == "header bytes: [redacted] end")
        #expect(redactor.redact("HEADER BYTES: \(hex.uppercased())") == "HEADER BYTES: [redacted]")
    }

    /// The key base64-encoded on its own or inside a longer value (each of the three byte
    /// alignments), in base64 and base64url, whole or cut short at the end of a body.
    @Test(arguments: ["", "u", "us", "user:", "prefix-of-seven:"])
    func redactsTheWriteKeyInBase64(prefix: String) {
        let key = "wk_live_7f3a9c1e5b2d4680aabb?>??"
        let redactor = SecretRedactor(secret: key)
        let encoded = Data((prefix + key + "!").utf8).base64EncodedString()
        let redacted = redactor.redact("Authorization: Basic \(encoded)")
        #expect(!redacted.contains(encoded))
        #expect(redacted.contains("[redacted]"))
        // What is left around the marker is at most a few characters that mix in other bytes.
        #expect(redacted.count < "Authorization: Basic ".count + encoded.count - 30)
        let url = encoded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        #expect(!redactor.redact(url).contains(url))
        #expect(redactor.redact("echo " + String(encoded.prefix(prefix.count * 4 / 3 + 12))).hasSuffix("[redacted]"))
        #expect(
            redactor.redact(Data("unrelated text".utf8).base64EncodedString())
                == Data("unrelated text".utf8).base64EncodedString())
    }

    // MARK: Lane schedule

    @Test func aGroupWaitsUntilItHeadsAllItsLanes() {
        var schedule = DeliverySchedule(laneCount: 64)
        let ann = [Self.track(userId: "u-ann", seq: 1), Self.track(email: "ann@example.com", seq: 2)]
        let annReady = schedule.add(ann, source: "a")
        let annByEmailReady = schedule.add([Self.track(email: "ann@example.com", seq: 3)], source: "b")
        let annByIdReady = schedule.add([Self.track(userId: "u-ann", seq: 4)], source: "c")
        #expect(annReady)
        #expect(!annByEmailReady)
        #expect(!annByIdReady)
        let bobReady = schedule.add([Self.track(email: "bob@example.com", seq: 5)], source: "d")
        #expect(
            bobReady
                == (schedule.lane(of: "bob@example.com") != schedule.lane(of: "ann@example.com")
                    && schedule.lane(of: "bob@example.com") != schedule.lane(of: "u-ann")))

        var order: [Int] = []
        func seq(_ event: Event) -> Int {
            if case .integer(let s)? = event.properties?["seq"] { return Int(s) }
            return -1
        }
        // Run everything one attempt at a time, always delivering.
        while let next = schedule.takeReady() {
            order.append(seq(next.event))
            _ = schedule.recordAttempt(next.group)
            schedule.advance(next.group)
        }
        #expect(schedule.isEmpty)
        let annOrder = order.filter { $0 != 5 }
        #expect(annOrder == [1, 2, 3, 4])
        #expect(order.contains(5))
    }

    @Test func backoffKeepsLaterGroupsOfTheLaneWaiting() {
        var schedule = DeliverySchedule(laneCount: 8)
        schedule.add([Self.track(email: "ann@example.com", seq: 1)], source: "a")
        schedule.add([Self.track(email: "ann@example.com", seq: 2)], source: "b")
        let first = schedule.takeReady()!
        _ = schedule.recordAttempt(first.group)
        schedule.backOff(first.group, until: 10, after: DeliveryError(kind: .exhausted, message: "HTTP 503"))
        #expect(!schedule.hasReady)
        schedule.endBackoffs(now: 5)
        #expect(!schedule.hasReady)
        #expect(schedule.nextBackoffEnd == 10)
        schedule.endBackoffs(now: 10)
        let again = schedule.takeReady()!
        #expect(again.group == first.group)
        #expect(schedule.group(again.group).lastFailure?.message == "HTTP 503")
        schedule.advance(again.group)
        let second = schedule.takeReady()!
        #expect(second.group != first.group)
    }

    @Test func finishedGroupsAreHandedOverOnceWhileLaterGroupsKeepTheirIDs() throws {
        var schedule = DeliverySchedule(laneCount: 512)
        // 300 people, one group each, then a second group for person 0, behind the first in its lane.
        for person in 0..<300 {
            schedule.add([Self.track(email: "p\(person)@example.com", seq: person)], source: "s\(person)")
        }
        schedule.add([Self.track(email: "p0@example.com", seq: 1000)], source: "again")
        func seq(_ event: Event) -> Int {
            if case .integer(let s)? = event.properties?["seq"] { return Int(s) }
            return -1
        }
        // Person 0's first group (the oldest slot) stays running while every later group that can
        // finishes, newest first: the slots after the oldest empty out of order, and every group
        // must still be found by its id.
        let first = schedule.takeReady()
        let oldest = try #require(first)
        #expect(seq(oldest.event) == 0)
        var finishedOrder: [String] = []
        while schedule.hasReady {
            var running: [(group: Int, event: Event)] = []
            while let next = schedule.takeReady() { running.append(next) }
            for next in running.reversed() {
                #expect(schedule.group(next.group).source == "s\(seq(next.event))")
                _ = schedule.recordAttempt(next.group)
                schedule.advance(next.group)
                finishedOrder.append("s\(seq(next.event))")
            }
        }
        #expect(finishedOrder.count >= 200)
        #expect(!finishedOrder.contains("again"))
        #expect(schedule.takeFinished().map(\.source) == finishedOrder)
        #expect(schedule.takeFinished().isEmpty)
        schedule.advance(oldest.group)
        var rest: [String] = ["s0"]
        while let next = schedule.takeReady() {
            #expect(schedule.group(next.group).source == (seq(next.event) == 1000 ? "again" : "s\(seq(next.event))"))
            schedule.advance(next.group)
            rest.append(schedule.takeFinished().last?.source ?? "none")
        }
        #expect(schedule.isEmpty)
        #expect(rest.contains("again"))
        #expect(Set(finishedOrder + rest).count == 301)
    }

    @Test func aGroupsLanesAreDistinctAscendingAndThoseOfItsKeys() {
        let schedule = DeliverySchedule(laneCount: 8)
        let events = [
            Self.track(email: "ann@example.com", seq: 1), Self.track(userId: "u-bob", seq: 2),
            Self.track(email: "ANN@example.com", seq: 3), Self.track(userId: "u-cy", seq: 4),
            Self.track(userId: "u-bob", seq: 5),
        ]
        let lanes = DeliverySchedule.lanes(of: events, laneCount: 8)
        #expect(lanes == Set(["ann@example.com", "u-bob", "u-cy"].map { schedule.lane(of: $0) }).sorted())
        #expect(
            DeliverySchedule.lanes(of: [events[0], events[2]], laneCount: 8) == [schedule.lane(of: "ann@example.com")])
    }

    @Test func lanesSpreadKeys() {
        let schedule = DeliverySchedule(laneCount: 64)
        let lanes = Set((0..<1000).map { schedule.lane(of: "person\($0)@example.com") })
        #expect(lanes.count == 64)
        #expect(schedule.lane(of: "x") == schedule.lane(of: "x"))
    }

    // MARK: Histogram and configuration

    @Test func histogramQuantilesWithinTenPercent() {
        var histogram = LatencyHistogram()
        #expect(histogram.quantile(0.5) == 0)
        for i in 1...1000 { histogram.record(Double(i) / 1000) }  // 1 ms ... 1 s
        let p50 = histogram.quantile(0.5)
        let p99 = histogram.quantile(0.99)
        #expect(p50 >= 0.5 && p50 <= 0.55)
        #expect(p99 >= 0.99 && p99 <= 1.09)
        histogram.record(1e9)
        #expect(histogram.quantile(1) > 100)
    }

    @Test(arguments: [
        ("ftp://x/v1/", "k", 16, "endpoint"), ("", "k", 16, "endpoint"), ("http://a b/", "k", 16, "endpoint"),
        ("https://x/v1/", "", 16, "write key"), ("https://x/v1/", "k\r\nX-Evil: 1", 16, "write key"),
        ("https://x/v1/", "k", 0, "concurrency"),
    ])
    func rejectsBadConfigurations(endpoint: String, key: String, concurrency: Int, mentions: String) {
        let configuration = DeliveryConfiguration(
            endpoint: endpoint, writeKey: key, userAgent: "t", concurrency: concurrency)
        let error = #expect(throws: DeliveryError.self) { try configuration.validate() }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains(mentions) == true)
    }

    @Test func deliveryErrorDescriptionIsOneLine() {
        let error = DeliveryError(kind: .rejected, message: "HTTP 400", status: 400, body: "line one\nline two")
        #expect(error.description == "HTTP 400: line one line two")
    }
}
