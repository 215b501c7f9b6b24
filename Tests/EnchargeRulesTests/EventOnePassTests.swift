import EnchargeKit
import Foundation
import JSONKit
import Testing

@testable import EnchargeRules
@testable import LuaKit

/// The one-pass events of `encharge.identify` and `encharge.track` against the slow way
/// (`toJSON`, then `Event.identify`/`Event.track`): the same wire bytes and identity key wherever
/// the slow way accepts an event without a warning, and a refusal (so the slow way answers, with
/// its message) everywhere else.
@Suite struct EventOnePassTests {
    enum Slow: Equatable {
        case event(wire: String, identityKey: String)
        case warned
        case failed(String)
    }

    func engine() throws -> RuleEngine {
        let path = NSTemporaryDirectory() + "rules-\(UUID().uuidString).lua"
        try "function on_record(r) end".write(toFile: path, atomically: true, encoding: .utf8)
        return try RuleEngine(options: RuleOptions(rulesPath: path))
    }

    /// Leaves the values `arguments` (Lua expressions, `r` a decoded record) at stack slots 1...
    func push(_ arguments: String, record: String, on state: LuaState) throws {
        state.top = 0
        let chunk = "local r = json.decode([==[\(record)]==]) return \(arguments)"
        try state.load(Array(chunk.utf8), chunkName: "=args")
        try state.call(arguments: 0, results: -1)
    }

    func slowIdentify(_ state: LuaState) -> Slow {
        do {
            var warnings: [EventWarning] = []
            let event = try Event.identify(
                user: try state.toJSON(at: 1, path: "user", maxBytes: RuleOptions.maxEventBytes), warnings: &warnings)
            return warnings.isEmpty ? .event(wire: wire(event), identityKey: event.identityKey) : .warned
        } catch {
            return .failed("\(error)")
        }
    }

    func slowTrack(_ state: LuaState) -> Slow {
        do {
            var warnings: [EventWarning] = []
            let properties =
                state.isNoneOrNil(3)
                ? nil : try state.toJSON(at: 3, path: "properties", maxBytes: RuleOptions.maxEventBytes)
            let event = try Event.track(
                name: try state.toJSON(at: 1, path: "name", maxBytes: RuleOptions.maxEventBytes),
                user: try state.toJSON(at: 2, path: "user", maxBytes: RuleOptions.maxEventBytes),
                properties: properties, sourceIp: nil, warnings: &warnings)
            return warnings.isEmpty ? .event(wire: wire(event), identityKey: event.identityKey) : .warned
        } catch {
            return .failed("\(error)")
        }
    }

    func wire(_ event: Event) -> String { String(decoding: event.wireJSON(), as: UTF8.self) }

    static let record = #"""
        {"id":100003,"email":" Ann@Example.org ","tags":["newsletter"," vip ","",""],"phone":null,
         "company":{"name":"Globex","size":50,"domain":null},"score":0.95,"big":12345678901234567890,
         "ip":"198.18.2.152","bad":"a\u0000b","esc":"q\"\\\n"}
        """#

    @Test(arguments: [
        "{ email = r.email, userId = r.id, tags = r.tags, ip = r.ip, company = r.company, score = r.score }",
        "{ email = r.email }", "{ userId = r.id }", "{ userId = 7.0 }", "{ userId = -12 }", "{ userId = r.big }",
        "{ userId = 'u-1', email = '   ' }", "{ userId = '  ', email = 'a@b.co' }",
        "{ email = 'a@b.co', userId = json.null }",
        "{ email = 'A@B.CO', tags = 'x, y ' }", "{ email = 'a@b.co', tags = '  ' }", "{ email = 'a@b.co', tags = {} }",
        "{ email = 'a@b.co', tags = json.array{} }", "{ email = 'a@b.co', tags = json.null }",
        "{ email = 'a@b.co', tags = { ' ', '' } }", "{ email = 'a@b.co', ip = '  ' }",
        "{ email = 'a@b.co', ip = json.null }",
        "{ email = 'a@b.co', ip = '2001:db8::1' }", "{ email = 'a@b.co', esc = r.esc, bad = r.bad, phone = r.phone }",
        "r", "json.decode('{\"email\":\"a@b.co\",\"userId\":null,\"tags\":null,\"x\":null}')",
        // Read in place by one C call per table: text, numbers and nulls of every kind.
        "{ email = 'a@b.co', firstName = 'Zoë', lastName = '佐藤', n = -0.0, big = r.big, f = 1e300, t = true }",
        "{ userId = -0.0 }", "{ userId = 2^53 }", "{ userId = 1e300 }", "{ userId = math.mininteger }",
        "{ email = 'a@b.co', nested = { list = { json.null, -0.0, r.big, 'ü' }, n = json.null } }",
        // Custom members whose key and string value go out in one append, or not (escapes, non-ASCII).
        "{ a = 'first', email = 'a@b.co', zz = 'x\\\"y', ['k\\0'] = 'b', ['é'] = 'v', w = 'é' }",
        // Refused: errors and warnings the slow way words.
        "{ email = 'nope' }", "{ firstName = 'n' }", "{ email = 'a@b.co', Email = 'x' }",
        "{ email = 'a@b.co', tags = { 'a,b' } }",
        "{ email = 'a@b.co', ip = 'not an ip' }", "{ email = 'a@b.co', ip = 5 }", "{ userId = 1.5 }",
        "{ userId = true }",
        "{ email = 7 }", "{ email = 'a@b.co', tags = { 1 } }", "{ email = 'a@b.co', tags = { x = 1 } }",
        "{ email = 'a@b.co', tags = 5 }",
        "{ email = 'a@b.co', f = print }", "{ 'a@b.co' }", "{ email = '\\255@b.co' }", "{ userId = '   ' }",
        "{ userId = 0/0 }", "{ userId = math.huge }", "{ email = 'a@b.co', x = '\\255' }",
        "{ email = 'a@b.co', x = 0/0 }", "{ email = 'a@b.co', tags = { 'a', '\\255' } }",
        "{ email = 'a@b.co', [1] = 'x' }", "{ email = 'a@b.co', ['\\255'] = 1 }",
    ])
    func identifyMatchesTheSlowWay(user: String) throws {
        let engine = try engine()
        try push(user, record: Self.record, on: engine.state)
        let fast = engine.encodedIdentify(engine.state)
        #expect(engine.state.top == 1)
        let slow = slowIdentify(engine.state)
        if case .event(let wire, let identityKey) = slow {
            #expect(fast.map(self.wire) == wire)
            #expect(fast?.identityKey == identityKey)
        } else {
            #expect(fast == nil, "slow: \(slow)")
        }
    }

    @Test(arguments: [
        "'Signed up', { email = r.email }, { plan = 'pro', score = r.score, company = r.company }",
        "'Signed up', { userId = r.id }", "'Signed up', { userId = r.id }, nil",
        "'Signed up', { userId = r.id }, json.null",
        "'Signed up', { userId = r.id }, {}", "'Signed up', { userId = r.id }, json.object{}",
        "'é \"q\"', { userId = r.id }, r.company",
        // Refused.
        "'  ', { userId = r.id }", "'x', { userId = r.id }, { 1, 2 }", "'x', { userId = r.id }, json.array{}",
        "'x', { userId = r.id }, { n = 0/0 }", "'\\255', { userId = r.id }", "'x', { tags = 'a' }",
    ])
    func trackMatchesTheSlowWay(arguments: String) throws {
        let engine = try engine()
        try push(arguments, record: Self.record, on: engine.state)
        let top = engine.state.top
        let fast = engine.encodedTrack(engine.state)
        #expect(engine.state.top == top)
        let slow = slowTrack(engine.state)
        if case .event(let wire, let identityKey) = slow {
            #expect(fast.map(self.wire) == wire)
            #expect(fast?.identityKey == identityKey)
        } else {
            #expect(fast == nil, "slow: \(slow)")
        }
    }

    @Test func aLargeUserIsRefusedAtTheEventByteCapAndTheSlowWayNamesIt() throws {
        let engine = try engine()
        try push(
            "{ email = 'a@b.co', blob = string.rep('x', \(RuleOptions.maxEventBytes)) }", record: "{}", on: engine.state
        )
        #expect(engine.encodedIdentify(engine.state) == nil)
        #expect(
            slowIdentify(engine.state)
                == .failed(
                    "user.blob: value is larger than \(RuleOptions.maxEventBytes) bytes, the most one event may hold; send less"
                ))
    }

    @Test func anEventKeepsItsMembersReadableAndSettable() throws {
        let engine = try engine()
        try push(
            "'Paid', { userId = 'u1', email = 'A@x.io' }, { amount = 10.5, n = 3 }", record: "{}", on: engine.state)
        var event = try #require(engine.encodedTrack(engine.state))
        #expect(event.name == "Paid")
        #expect(JSONValue.object(event.user) == ["email": "A@x.io", "userId": "u1"])
        #expect(event.properties.map(JSONValue.object) == ["amount": 10.5, "n": 3])
        #expect(event.sourceIp == nil)
        #expect(event.identityKey == "u1")
        #expect(try Event(validating: event.jsonValue) == event)
        event.sourceIp = "192.0.2.1"
        #expect(
            wire(event)
                == #"{"name":"Paid","user":{"email":"A@x.io","userId":"u1"},"properties":{"amount":10.5,"n":3},"sourceIp":"192.0.2.1"}"#
        )
    }
}
