import EnchargeKit
import JSONKit
import Testing

/// Parses JSON text and validates it as a whole event.
func validatedEvent(_ text: String) throws -> Event {
    try Event(validating: JSONValue(parsing: text))
}

/// The validation error for an event given as JSON text, or nil if it is valid.
func validationError(_ text: String) throws -> EventValidationError? {
    validationError(of: try JSONValue(parsing: text))
}

func validationError(of json: JSONValue) -> EventValidationError? {
    do throws(EventValidationError) {
        _ = try Event(validating: json)
        return nil
    } catch {
        return error
    }
}

func wireText(_ event: Event) -> String {
    String(decoding: event.wireJSON(), as: UTF8.self)
}

@Suite struct EventWireEncodingTests {
    /// Valid events and their exact wire body: key order, normalization of user, omissions.
    static let goodEvents: [(input: String, wire: String)] = [
        // The smallest valid event goes out unchanged.
        (
            #"{"name":"Registered user","user":{"email":"ann@example.com"}}"#,
            #"{"name":"Registered user","user":{"email":"ann@example.com"}}"#
        ),
        // Top-level order is name, user, properties, sourceIp; nested keys sorted; email case kept.
        (
            #"{"sourceIp":"203.0.113.7","properties":{"plan":"pro","amount":12.5},"user":{"userId":"u-1","email":"Ann@Example.com"},"name":"Paid invoice"}"#,
            #"{"name":"Paid invoice","user":{"email":"Ann@Example.com","userId":"u-1"},"properties":{"amount":12.5,"plan":"pro"},"sourceIp":"203.0.113.7"}"#
        ),
        // An integer userId becomes its decimal string, 64-bit values intact.
        (
            #"{"name":"n","user":{"userId":12345678901234567}}"#,
            #"{"name":"n","user":{"userId":"12345678901234567"}}"#
        ),
        (
            #"{"name":"n","user":{"userId":-42}}"#,
            #"{"name":"n","user":{"userId":"-42"}}"#
        ),
        // A tag list becomes one comma-separated string, each tag trimmed.
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":[" vip ","beta","Älter"]}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":"vip, beta, Älter"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":["solo"]}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":"solo"}}"#
        ),
        // A tag string is trimmed at its ends and otherwise kept as written.
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":"  vip, beta \n"}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":"vip, beta"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":"vip,beta"}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":"vip,beta"}}"#
        ),
        // No tags (an empty list or a blank string) means no tags member at all.
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":[]}}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":"  "}}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // A null tags member clears the field in Encharge, so it is sent.
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":null}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":null}}"#
        ),
        // A null email or userId counts as absent and is not sent.
        (
            #"{"name":"n","user":{"email":null,"userId":"u-1"}}"#,
            #"{"name":"n","user":{"userId":"u-1"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","userId":null}}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // Null custom fields are kept (they clear the field); other values pass through.
        (
            #"{"name":"n","user":{"email":"a@b.co","firstName":null,"ip":null,"age":41,"vip":true,"score":0.5}}"#,
            #"{"name":"n","user":{"age":41,"email":"a@b.co","firstName":null,"ip":null,"score":0.5,"vip":true}}"#
        ),
        // Null properties and sourceIp mean none and are omitted.
        (
            #"{"name":"n","user":{"email":"a@b.co"},"properties":null,"sourceIp":null}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // Empty properties are kept as given.
        (
            #"{"name":"n","user":{"email":"a@b.co"},"properties":{}}"#,
            #"{"name":"n","user":{"email":"a@b.co"},"properties":{}}"#
        ),
        // Nested properties: sorted keys, integers stay integers, floats stay floats.
        (
            #"{"name":"Registered user","user":{"email":"a@b.co"},"properties":{"trial":{"startDate":"2020-10-27T07:58:19Z","length":14},"amount":9.0,"items":[1,2.5,"x",null,{"b":1,"a":2}]}}"#,
            #"{"name":"Registered user","user":{"email":"a@b.co"},"properties":{"amount":9.0,"items":[1,2.5,"x",null,{"a":2,"b":1}],"trial":{"length":14,"startDate":"2020-10-27T07:58:19Z"}}}"#
        ),
        // Text is escaped where JSON needs it and otherwise sent as raw UTF-8.
        (
            #"{"name":"Ünïcødé \"quoted\"\n","user":{"email":"zoë@exämple.de"}}"#,
            #"{"name":"Ünïcødé \"quoted\"\n","user":{"email":"zoë@exämple.de"}}"#
        ),
        // Addresses: IPv4 and IPv6 in user.ip and sourceIp.
        (
            #"{"name":"n","user":{"email":"a@b.co","ip":"192.0.2.1"},"sourceIp":"2001:db8::7"}"#,
            #"{"name":"n","user":{"email":"a@b.co","ip":"192.0.2.1"},"sourceIp":"2001:db8::7"}"#
        ),
        // What the Ingest API accepts is sent, normalized, never refused (issue 7):
        // a tag holding a comma goes out as written (with a warning), blank tags are left out,
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":["partner, reseller"," ","vip",""]}}"#,
            #"{"name":"n","user":{"email":"a@b.co","tags":"partner, reseller, vip"}}"#
        ),
        // an empty table (what `local tags = {}` becomes) means no tags,
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":{}}}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // a blank email, userId, ip or sourceIp beside a real identity is absent,
        (
            #"{"name":"n","user":{"email":"","userId":"u-1","ip":""},"sourceIp":"  "}"#,
            #"{"name":"n","user":{"userId":"u-1"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","userId":" "}}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // an email with white space around it is trimmed,
        (
            #"{"name":"n","user":{"email":" \tann@b.co \n"}}"#,
            #"{"name":"n","user":{"email":"ann@b.co"}}"#
        ),
        // an integral float id (Lua arithmetic makes them) is its integer,
        (
            #"{"name":"n","user":{"userId":123.0}}"#,
            #"{"name":"n","user":{"userId":"123"}}"#
        ),
        (
            #"{"name":"n","user":{"userId":-9007199254740992.0}}"#,
            #"{"name":"n","user":{"userId":"-9007199254740992"}}"#
        ),
        // and an address that is not one is left out (with a warning).
        (
            #"{"name":"n","user":{"email":"a@b.co","ip":"203.0.113.7:5123"},"sourceIp":"203.0.113.7, 10.0.0.1"}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","ip":16909060},"sourceIp":["1.2.3.4"]}"#,
            #"{"name":"n","user":{"email":"a@b.co"}}"#
        ),
        // "identify" is a valid name: it creates or updates the person only.
        (
            #"{"name":"identify","user":{"userId":"7","firstName":"Ann"}}"#,
            #"{"name":"identify","user":{"firstName":"Ann","userId":"7"}}"#
        ),
    ]

    @Test(arguments: goodEvents)
    func validEventEncodesToExactWireJSON(input: String, wire: String) throws {
        let event = try validatedEvent(input)
        #expect(wireText(event) == wire)
    }

    /// Each normalization the API would accept anyway, and the warning it earns (none for a blank).
    static let warnedEvents: [(input: String, warnings: [EventWarning])] = [
        (#"{"name":"n","user":{"email":"a@b.co","tags":["a, b","c,d","e"]}}"#, [.tagWithComma, .tagWithComma]),
        (#"{"name":"n","user":{"email":"a@b.co","tags":"a, b"}}"#, []),
        (#"{"name":"n","user":{"email":"","userId":"u","ip":""},"sourceIp":""}"#, []),
        (
            #"{"name":"n","user":{"email":"a@b.co","ip":"1.2.3.4:80"}}"#,
            [.droppedAddress(field: "user.ip", value: "'1.2.3.4:80'")]
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co"},"sourceIp":7}"#,
            [.droppedAddress(field: "sourceIp", value: "an integer")]
        ),
        // Record data shown in a warning cannot forge output: control characters are escaped.
        (
            #"{"name":"n","user":{"email":"a@b.co","ip":"1\nwarning: forged\u001b[2K\u0000"}}"#,
            [.droppedAddress(field: "user.ip", value: #"'1\nwarning: forged\u001b[2K\0'"#)]
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","userid":"7","Email":"x","IP":"1.2.3.4","Tags":"a","TAGS":1}}"#,
            [
                .reservedKeyCase(key: "Email", expected: "email"), .reservedKeyCase(key: "IP", expected: "ip"),
                .reservedKeyCase(key: "TAGS", expected: "tags"), .reservedKeyCase(key: "Tags", expected: "tags"),
                .reservedKeyCase(key: "userid", expected: "userId"),
            ]
        ),
        // Custom fields of the same lengths that are not reserved keys in another case.
        (#"{"name":"n","user":{"email":"a@b.co","phone":"1","source":"x","plan":"p","id":1,"emai1":2}}"#, []),
    ]

    @Test(arguments: warnedEvents)
    func normalizationsReportTheirWarnings(input: String, warnings expected: [EventWarning]) throws {
        var warnings: [EventWarning] = []
        _ = try Event(validating: JSONValue(parsing: input), warnings: &warnings)
        #expect(warnings == expected)
    }

    @Test(arguments: goodEvents)
    func jsonValueRoundTripsThroughValidationAndWire(input: String, wire: String) throws {
        let event = try validatedEvent(input)
        #expect(try Event(validating: event.jsonValue) == event)
        #expect(try JSONValue(parsing: event.wireJSON()) == event.jsonValue)
    }

    @Test func jsonValueHasSortedKeysAndOmitsAbsentMembers() throws {
        let full = try validatedEvent(
            #"{"name":"n","user":{"email":"a@b.co"},"properties":{"p":1},"sourceIp":"::1"}"#)
        #expect(
            full.jsonValue.encoded() == #"{"name":"n","properties":{"p":1},"sourceIp":"::1","user":{"email":"a@b.co"}}"#
        )
        let bare = try validatedEvent(#"{"name":"n","user":{"email":"a@b.co"}}"#)
        #expect(bare.jsonValue.encoded() == #"{"name":"n","user":{"email":"a@b.co"}}"#)
    }

    @Test func writeAppendsCompactJSONEvenToAPrettyWriter() throws {
        let event = try validatedEvent(#"{"name":"n","user":{"email":"a@b.co","tags":["x"]},"properties":{"a":[1]}}"#)
        var writer = JSONWriter(pretty: true)
        writer.bytes.append(contentsOf: "[".utf8)
        event.write(to: &writer)
        #expect(writer.pretty)
        #expect(
            String(decoding: writer.bytes, as: UTF8.self)
                == #"[{"name":"n","user":{"email":"a@b.co","tags":"x"},"properties":{"a":[1]}}"#)
    }

    @Test func userWithoutAnythingToNormalizeIsKeptAsGiven() throws {
        let user: JSONValue = ["email": "a@b.co", "firstName": "Ann", "tags": "vip", "ip": "10.0.0.1"]
        let event = try Event.identify(user: user)
        #expect(JSONValue.object(event.user) == user)
    }
}

@Suite struct EventValidationErrorTests {
    /// Invalid events and the exact error a person sees.
    static let badEvents: [(input: String, error: String)] = [
        // Whole-event problems.
        (#"[]"#, "an event must be an object with name and user, got an array"),
        (#""Registered user""#, "an event must be an object with name and user, got a string"),
        (#"{"user":{"email":"a@b.co"}}"#, "event needs a name"),
        (#"{"name":null,"user":{"email":"a@b.co"}}"#, "event needs a name"),
        (#"{"name":"n"}"#, "event needs a user with email or userId"),
        (#"{"name":"n","user":null}"#, "event needs a user with email or userId"),
        // name
        (#"{"name":42,"user":{"email":"a@b.co"}}"#, "name: expected a string, got an integer"),
        (#"{"name":"","user":{"email":"a@b.co"}}"#, "name: must not be empty"),
        (#"{"name":" \t","user":{"email":"a@b.co"}}"#, "name: must not be empty"),
        // user and its identity
        (#"{"name":"n","user":"a@b.co"}"#, "user: expected an object, got a string"),
        (#"{"name":"n","user":{}}"#, "user needs email or userId"),
        (#"{"name":"n","user":{"firstName":"Ann"}}"#, "user needs email or userId"),
        (#"{"name":"n","user":{"email":null,"userId":null}}"#, "user needs email or userId"),
        (
            #"{"name":"n","user":{"Email":"a@b.co"}}"#,
            "user needs email or userId (did you mean 'email' instead of 'Email'?)"
        ),
        (
            #"{"name":"n","user":{"emial":"a@b.co"}}"#,
            "user needs email or userId (did you mean 'email' instead of 'emial'?)"
        ),
        (
            #"{"name":"n","user":{"user_id":"1"}}"#,
            "user needs email or userId (did you mean 'userId' instead of 'user_id'?)"
        ),
        (#"{"name":"n","user":{"id":7}}"#, "user needs email or userId (did you mean 'userId' instead of 'id'?)"),
        // user.email
        (#"{"name":"n","user":{"email":"foo"}}"#, "user.email: 'foo' does not look like an email address"),
        (
            #"{"name":"n","user":{"email":"ann smith@b.co"}}"#,
            "user.email: 'ann smith@b.co' does not look like an email address"
        ),
        (#"{"name":"n","user":{"email":"a@b@c.co"}}"#, "user.email: 'a@b@c.co' does not look like an email address"),
        (
            #"{"name":"n","user":{"email":"a@localhost"}}"#,
            "user.email: 'a@localhost' does not look like an email address"
        ),
        (#"{"name":"n","user":{"email":"@b.co"}}"#, "user.email: '@b.co' does not look like an email address"),
        (#"{"name":"n","user":{"email":"a@b.co."}}"#, "user.email: 'a@b.co.' does not look like an email address"),
        (#"{"name":"n","user":{"email":"a@.b.co"}}"#, "user.email: 'a@.b.co' does not look like an email address"),
        (#"{"name":"n","user":{"email":"a@b..co"}}"#, "user.email: 'a@b..co' does not look like an email address"),
        (
            #"{"name":"n","user":{"email":"1234567890123456789012345678901234567890123456789012345678901234567890"}}"#,
            "user.email: '123456789012345678901234567890123456789012345678901234567890123…' does not look like an email address"
        ),
        // A blank email or userId is absent; with nothing else left, the message says it was blank.
        (#"{"name":"n","user":{"email":""}}"#, "user needs email or userId (email is blank)"),
        (#"{"name":"n","user":{"email":" ","userId":null}}"#, "user needs email or userId (email is blank)"),
        (#"{"name":"n","user":{"email":5}}"#, "user.email: expected a string, got an integer"),
        (#"{"name":"n","user":{"email":["a@b.co"]}}"#, "user.email: expected a string, got an array"),
        // A bad email is an error even when userId identifies the person.
        (
            #"{"name":"n","user":{"userId":"u-1","email":"nope"}}"#,
            "user.email: 'nope' does not look like an email address"
        ),
        // user.userId
        (
            #"{"name":"n","user":{"userId":1.5}}"#,
            "user.userId: expected a string or an integer, got the float 1.5; pass a string or math.tointeger(x)"
        ),
        (
            #"{"name":"n","user":{"userId":1e300}}"#,
            "user.userId: expected a string or an integer, got the float 1e+300; pass a string or math.tointeger(x)"
        ),
        (#"{"name":"n","user":{"userId":true}}"#, "user.userId: expected a string or an integer, got a boolean"),
        (#"{"name":"n","user":{"userId":{"id":1}}}"#, "user.userId: expected a string or an integer, got an object"),
        (#"{"name":"n","user":{"userId":""}}"#, "user needs email or userId (userId is blank)"),
        (#"{"name":"n","user":{"userId":"  "}}"#, "user needs email or userId (userId is blank)"),
        // user.tags
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":5}}"#,
            "user.tags: expected a string or an array of strings, got an integer"
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":{"vip":true}}}"#,
            "user.tags: expected a string or an array of strings, got an object"
        ),
        (
            #"{"name":"n","user":{"email":"a@b.co","tags":["a","b",3]}}"#,
            "user.tags[2]: expected a string, got an integer"
        ),
        (#"{"name":"n","user":{"email":"a@b.co","tags":["a",null]}}"#, "user.tags[1]: expected a string, got null"),
        // properties
        (#"{"name":"n","user":{"email":"a@b.co"},"properties":[]}"#, "properties: expected an object, got an array"),
        (
            #"{"name":"n","user":{"email":"a@b.co"},"properties":"plan=pro"}"#,
            "properties: expected an object, got a string"
        ),
        // Checks run name, user, properties, sourceIp: the first problem is reported.
        (#"{"name":"","user":{},"properties":5}"#, "name: must not be empty"),
        (#"{"name":"n","user":{},"properties":5}"#, "user needs email or userId"),
        (
            #"{"name":"n","user":{"email":"a@b.co"},"properties":5,"sourceIp":"x"}"#,
            "properties: expected an object, got an integer"
        ),
    ]

    @Test(arguments: badEvents)
    func invalidEventIsRejectedWithExactMessage(input: String, error: String) throws {
        let found = try #require(try validationError(input), "expected \(input) to be rejected")
        #expect(found.description == error)
    }

    @Test func descriptionJoinsPathAndMessage() throws {
        let nested = try #require(try validationError(#"{"name":"n","user":{"email":"a@b.co","tags":["a",1]}}"#))
        #expect(nested.path == "user.tags[1]")
        #expect(nested.message == "expected a string, got an integer")
        let whole = try #require(try validationError(#"{"name":"n","user":{}}"#))
        #expect(whole.path == "")
        #expect(whole.description == whole.message)
        #expect(EventValidationError(path: "p.q", message: "m").description == "p.q: m")
    }

    /// Numbers must be finite anywhere in user or properties; the path pinpoints the value.
    static let nonFiniteEvents: [(event: JSONValue, error: String)] = [
        (
            ["name": "n", "user": ["email": "a@b.co"], "properties": ["trial": ["length": .double(.nan)]]],
            "properties.trial.length: expected a finite number, got NaN"
        ),
        (
            ["name": "n", "user": ["email": "a@b.co"], "properties": ["scores": [1, .double(.infinity)]]],
            "properties.scores[1]: expected a finite number, got infinity"
        ),
        (
            ["name": "n", "user": ["email": "a@b.co", "score": .double(-.infinity)]],
            "user.score: expected a finite number, got -infinity"
        ),
        (
            ["name": "n", "user": ["email": "a@b.co", "stats": [["visits": 1], ["visits": .double(.nan)]]]],
            "user.stats[1].visits: expected a finite number, got NaN"
        ),
        (
            ["name": "n", "user": ["email": "a@b.co"], "properties": ["a.b": [["c d": .double(.nan)]]]],
            #"properties["a.b"][0]["c d"]: expected a finite number, got NaN"#
        ),
        (
            ["name": "n", "user": ["email": "a@b.co"], "properties": ["ratio": .double(.nan)]],
            "properties.ratio: expected a finite number, got NaN"
        ),
    ]

    @Test(arguments: nonFiniteEvents)
    func nonFiniteNumberIsRejectedWithItsPath(event: JSONValue, error: String) throws {
        let found = try #require(validationError(of: event))
        #expect(found.description == error)
    }

    /// Unknown top-level keys: a suggestion for typos and for keys from other tools, else the list.
    static let unknownKeys: [(key: String, error: String)] = [
        ("propreties", "unknown key 'propreties' (did you mean 'properties'?)"),
        ("property", "unknown key 'property' (did you mean 'properties'?)"),
        ("Name", "unknown key 'Name' (did you mean 'name'?)"),
        ("nme", "unknown key 'nme' (did you mean 'name'?)"),
        ("usr", "unknown key 'usr' (did you mean 'user'?)"),
        ("sourceIP", "unknown key 'sourceIP' (did you mean 'sourceIp'?)"),
        ("source_ip", "unknown key 'source_ip' (did you mean 'sourceIp'?)"),
        ("srcIp", "unknown key 'srcIp' (an event has name, user, properties and sourceIp)"),
        ("email", "unknown key 'email' (did you mean 'user.email'?)"),
        ("userId", "unknown key 'userId' (did you mean 'user.userId'?)"),
        ("tags", "unknown key 'tags' (did you mean 'user.tags'?)"),
        ("event", "unknown key 'event' (did you mean 'name'?)"),
        ("traits", "unknown key 'traits' (did you mean 'user'?)"),
        ("foo", "unknown key 'foo' (an event has name, user, properties and sourceIp)"),
        ("props", "unknown key 'props' (an event has name, user, properties and sourceIp)"),
        ("", "unknown key '' (an event has name, user, properties and sourceIp)"),
    ]

    @Test(arguments: unknownKeys)
    func unknownTopLevelKeyIsRejectedWithSuggestion(key: String, error: String) throws {
        var members: [(String, JSONValue)] = [("name", "n"), ("user", ["email": "a@b.co"])]
        members.append((key, ["plan": "pro"]))
        let found = try #require(validationError(of: .object(JSONObject(members))))
        #expect(found.description == error)
    }

    @Test func unknownKeyIsReportedBeforeOtherProblems() throws {
        let found = try #require(try validationError(#"{"name":"","propreties":{}}"#))
        #expect(found.description == "unknown key 'propreties' (did you mean 'properties'?)")
    }
}

@Suite struct EventAddressTests {
    static let validIPs = [
        "0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.10",
        "::", "::1", "1::", "2001:db8::7", "2001:DB8:0:0:8:800:200C:417A", "fe80::1:2:3:4",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "::ffff:192.0.2.128",
        "1:2:3:4:5:6:1.2.3.4", "64:ff9b::192.0.2.33",
    ]

    static let invalidIPs = [
        "", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04", "01.2.3.4", "1.2.3.4.", ".1.2.3.4",
        "1..2.3", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:80", "a.b.c.d", "localhost",
        ":", ":::", "1:::2", ":1::2", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::", "12345::", "g::1", "fe80::1%eth0", "[::1]", "1:", "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3", "::1.2.3.4:5", "1.2.3.4::", "::256.1.1.1",
    ]

    func sourceIpError(_ ip: String) -> EventValidationError? {
        validationError(of: ["name": "n", "user": ["email": "a@b.co"], "sourceIp": .string(ip)])
    }

    @Test(arguments: validIPs)
    func validIPAddressIsAccepted(ip: String) {
        #expect(sourceIpError(ip) == nil)
        #expect(validationError(of: ["name": "n", "user": ["email": "a@b.co", "ip": .string(ip)]]) == nil)
    }

    /// An address that is not one only enriches geography: it is left out with a warning (a blank
    /// one without), and the event is still sent.
    @Test(arguments: invalidIPs)
    func invalidIPAddressIsDroppedWithAWarning(ip: String) throws {
        var warnings: [EventWarning] = []
        let event = try Event(
            validating: ["name": "n", "user": ["email": "a@b.co", "ip": .string(ip)], "sourceIp": .string(ip)],
            warnings: &warnings)
        #expect(event.sourceIp == nil)
        #expect(event.user["ip"] == nil)
        let shown = ip.isEmpty ? [] : ["'\(ip)'"]
        #expect(
            warnings
                == shown.flatMap {
                    [
                        EventWarning.droppedAddress(field: "user.ip", value: $0),
                        .droppedAddress(field: "sourceIp", value: $0),
                    ]
                })
    }

    static let validEmails = [
        "a@b.co", "ann.smith+tag@mail.example.com", "A_B-c@EXAMPLE.ORG", "zoë@exämple.de", "x@a.b.c.d",
        "o'neil@example.ie",
    ]

    static let invalidEmails = [
        "plain", "@example.com", "a@", "a@b", "a@b.", "a@.b", "a@@b.co", "a@b@c.co", "a b@c.co",
        "a@b .co", "a\t@b.co", "a@b..co",
    ]
    // White space around an address ("a@b.co\n", common in CRM exports) is trimmed, not refused:
    // see the normalized cases in EventWireEncodingTests.goodEvents.

    @Test(arguments: validEmails)
    func plausibleEmailIsAccepted(email: String) {
        #expect(validationError(of: ["name": "n", "user": ["email": .string(email)]]) == nil)
    }

    @Test(arguments: invalidEmails)
    func implausibleEmailIsRejected(email: String) {
        let error = validationError(of: ["name": "n", "user": ["email": .string(email)]])
        #expect(
            error == EventValidationError(path: "user.email", message: "'\(email)' does not look like an email address")
        )
    }
}

@Suite struct EventConstructorTests {
    /// User objects, good and bad, that identify and track must judge exactly as the whole-event check does.
    static let users = [
        #"{"email":"a@b.co"}"#, #"{"userId":42,"tags":["a","b"]}"#, #"{}"#, #"{"email":"foo"}"#,
        #"{"emial":"a@b.co"}"#, #"{"email":"a@b.co","tags":[1]}"#, #"{"email":"a@b.co","ip":"x"}"#,
        #""a@b.co""#, #"null"#, #"{"userId":1.5}"#,
    ]

    @Test(arguments: users)
    func identifyJudgesUserLikeWholeEventValidation(user: String) throws {
        let userJSON = try JSONValue(parsing: user)
        let direct = Result { () throws(EventValidationError) in try Event.identify(user: userJSON) }
        let whole = Result { () throws(EventValidationError) in
            try Event(validating: .object(JSONObject([("name", "identify"), ("user", userJSON)])))
        }
        #expect(direct == whole)
    }

    /// (name, user, properties, sourceIp) as JSON text; nil means the argument is not given.
    static let trackCalls: [(name: String, user: String, properties: String?, sourceIp: String?)] = [
        (#""Paid""#, #"{"email":"a@b.co"}"#, nil, nil),
        (#""Paid""#, #"{"email":"a@b.co"}"#, #"{"amount":5}"#, #""203.0.113.9""#),
        (#""Paid""#, #"{"email":"a@b.co"}"#, "null", "null"),
        (#""Paid""#, #"{"email":"a@b.co","tags":" x "}"#, #"{}"#, nil),
        ("null", #"{"email":"a@b.co"}"#, nil, nil),
        ("7", #"{"email":"a@b.co"}"#, nil, nil),
        (#""""#, #"{"email":"a@b.co"}"#, nil, nil),
        (#""Paid""#, #"{"mail":"a@b.co"}"#, nil, nil),
        (#""Paid""#, #"{"email":"a@b.co"}"#, "[1]", nil),
        (#""Paid""#, #"{"email":"a@b.co"}"#, #"{"x":1}"#, #""1.2.3""#),
        (#""Paid""#, #"{"email":"a@b.co"}"#, nil, "42"),
    ]

    @Test(arguments: trackCalls)
    func trackJudgesArgumentsLikeWholeEventValidation(
        name: String, user: String, properties: String?, sourceIp: String?
    ) throws {
        let nameJSON = try JSONValue(parsing: name)
        let userJSON = try JSONValue(parsing: user)
        let propertiesJSON = try properties.map { try JSONValue(parsing: $0) }
        let sourceIpJSON = try sourceIp.map { try JSONValue(parsing: $0) }
        let direct = Result { () throws(EventValidationError) in
            try Event.track(name: nameJSON, user: userJSON, properties: propertiesJSON, sourceIp: sourceIpJSON)
        }
        var members: [(String, JSONValue)] = [("name", nameJSON), ("user", userJSON)]
        if let propertiesJSON { members.append(("properties", propertiesJSON)) }
        if let sourceIpJSON { members.append(("sourceIp", sourceIpJSON)) }
        let whole = Result { () throws(EventValidationError) in try Event(validating: .object(JSONObject(members))) }
        #expect(direct == whole)
    }

    @Test func identifyNamesTheEventIdentifyAndCarriesOnlyTheUser() throws {
        let event = try Event.identify(user: ["email": "a@b.co", "tags": ["vip", "beta"], "userId": 9])
        #expect(wireText(event) == #"{"name":"identify","user":{"email":"a@b.co","tags":"vip, beta","userId":"9"}}"#)
        #expect(event.properties == nil)
        #expect(event.sourceIp == nil)
    }

    @Test func trackCarriesPropertiesAndSourceIp() throws {
        let event = try Event.track(
            name: "Paid invoice", user: ["email": "a@b.co"], properties: ["amount": 12.5], sourceIp: "::1")
        #expect(
            wireText(event)
                == #"{"name":"Paid invoice","user":{"email":"a@b.co"},"properties":{"amount":12.5},"sourceIp":"::1"}"#)
    }

    @Test func trackReportsTheUserProblemWithItsPath() throws {
        #expect(throws: EventValidationError(path: "user.tags[2]", message: "expected a string, got an integer")) {
            try Event.track(
                name: "n", user: ["email": "a@b.co", "tags": ["a", "b", 3]], properties: nil, sourceIp: nil)
        }
        #expect(throws: EventValidationError(path: "", message: "user needs email or userId")) {
            try Event.identify(user: ["firstName": "Ann"])
        }
    }
}

@Suite struct EventIdentityKeyTests {
    static let cases: [(user: String, key: String)] = [
        // userId wins over email.
        (#"{"userId":"u-1","email":"Ann@X.io"}"#, "u-1"),
        (#"{"userId":42}"#, "42"),
        // userId is taken as written, case and all.
        (#"{"userId":"AbC"}"#, "AbC"),
        // Without userId, the email lower-cased (ASCII and other scripts).
        (#"{"email":"Ann@Example.COM"}"#, "ann@example.com"),
        (#"{"email":"ann@example.com"}"#, "ann@example.com"),
        (#"{"email":"ÅSA@Example.se"}"#, "åsa@example.se"),
        // A null identity member counts as absent.
        (#"{"email":null,"userId":"7"}"#, "7"),
        (#"{"userId":null,"email":"B@c.de"}"#, "b@c.de"),
    ]

    @Test(arguments: cases)
    func identityKeyIsUserIdElseLowerCasedEmail(user: String, key: String) throws {
        let event = try Event.identify(user: JSONValue(parsing: user))
        #expect(event.identityKey == key)
    }

    @Test func sameEmailInDifferentCaseIsOnePerson() throws {
        let a = try Event.identify(user: ["email": "Ann.Smith@Example.com"])
        let b = try Event.track(name: "x", user: ["email": "ann.smith@example.COM"], properties: nil, sourceIp: nil)
        #expect(a.identityKey == b.identityKey)
    }

    @Test func identityKeyIsEmptyWhenUserWasEmptiedAfterValidation() throws {
        var event = try Event.identify(user: ["email": "a@b.co"])
        event.user = JSONObject()
        #expect(event.identityKey == "")
    }
}

/// `encharge.client_ip(req)`'s reading of proxy headers.
@Suite struct ClientAddressTests {
    static let forwardedFor: [(header: String, address: String?)] = [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.1, 10.0.0.2", "203.0.113.7"),
        (" 203.0.113.7:5123 ,10.0.0.1", "203.0.113.7"),
        ("[2001:db8::1]:443, 10.0.0.1", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("unknown, 198.51.100.4", "198.51.100.4"),
        ("", nil),
        ("unknown", nil),
        ("1.2.3.4:99999999", nil),
        ("1.2.3.4:", nil),
        ("[1.2.3]:80", nil),
    ]

    @Test(arguments: forwardedFor)
    func firstValidAddressOfTheHeader(header: String, address: String?) {
        #expect(ClientAddress.firstValid(inForwardedFor: header) == address)
    }
}
