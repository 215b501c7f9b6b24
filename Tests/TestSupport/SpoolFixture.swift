import EnchargeKit
import JSONKit

/// For the spool's tests (EnchargeSpoolTests, SpoolBackendTests): events that name themselves,
/// delivery settings for loopback.
public enum SpoolFixture {
    public static let writeKey = "wk_test_5c1d9e7f3a2b4860"

    /// A track event for `person` (its userId) carrying `seq`, so the server can tell events apart.
    public static func track(_ person: String, seq: Int, extra: JSONObject = JSONObject()) -> Event {
        var properties = extra
        properties["seq"] = .integer(Int64(seq))
        return try! Event.track(
            name: "Paid invoice", user: ["userId": .string(person), "email": .string("\(person)@example.com")],
            properties: .object(properties), sourceIp: nil)
    }

    /// An identify for `person`; `request` (a custom field) tells the identifies of a person apart.
    public static func identify(_ person: String, request: Int? = nil) -> Event {
        var user = JSONObject([("userId", .string(person)), ("email", .string("\(person)@example.com"))])
        if let request { user["lastRequest"] = .integer(Int64(request)) }
        return try! Event.identify(user: .object(user))
    }

    /// Delivery to `endpoint` with the test write key, 4 in flight and millisecond backoffs.
    public static func configuration(
        _ endpoint: String, _ tweak: (inout DeliveryConfiguration) -> Void = { _ in }
    ) -> DeliveryConfiguration {
        var configuration = DeliveryConfiguration(
            endpoint: endpoint, writeKey: writeKey, userAgent: DeliveryConfiguration.userAgent(version: "0.0.0-test"),
            concurrency: 4, connectTimeout: 10, requestTimeout: 60, maxAttempts: 4, backoffBase: 0.001,
            backoffCap: 0.01)
        tweak(&configuration)
        return configuration
    }

    /// Per person, the `seq`s of accepted track events with repeats removed (a re-send after a
    /// restart repeats an event); per-person order holds when each list is ascending.
    public static func acceptedSeqsByPerson(_ requests: [IngestRequest]) -> [String: [Int]] {
        var seen = Set<[UInt8]>()
        var result: [String: [Int]] = [:]
        for request in requests where seen.insert(request.body).inserted {
            guard let person = request.person, let seq = request.seq else { continue }
            result[person, default: []].append(seq)
        }
        return result
    }

    public static func isAscending(_ values: [Int]) -> Bool { zip(values, values.dropFirst()).allSatisfy { $0 < $1 } }
}
