import Foundation
import JSONKit
import Testing

@testable import LuaKit

@Suite struct LuaJSONTests {
    func roundTrip(_ text: String) throws -> String {
        let state = try LuaState()
        state.installJSONModule()
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return try evaluate(state, "return json.encode(json.decode('\(escaped)'))").stringValue ?? "?"
    }

    @Test(arguments: [
        (#"{"a":10}"#, #"{"a":10}"#),
        (#"{"a":10.0}"#, #"{"a":10.0}"#),
        (#"{"id":12345678901234567}"#, #"{"id":12345678901234567}"#),
        (#"{"a":[],"b":{}}"#, #"{"a":[],"b":{}}"#),
        (#"{"z":1,"a":{"y":2,"b":3}}"#, #"{"a":{"b":3,"y":2},"z":1}"#),
        (#"{"email":null,"x":1}"#, #"{"email":null,"x":1}"#),
        (#"[1,null,3]"#, #"[1,null,3]"#),
        (#"[null]"#, #"[null]"#),
        (#"{"n":{"deep":[{"k":null}]}}"#, #"{"n":{"deep":[{"k":null}]}}"#),
        (#"{"s":"é\n\"q\""}"#, #"{"s":"é\n\"q\""}"#),
        (#"[0.1,1e-7,-0.0]"#, #"[0.1,1e-07,-0.0]"#),
        (#"{"id":12345678901234567890}"#, #"{"id":12345678901234567890}"#),
        (#"[-9223372036854775809,18446744073709551616]"#, #"[-9223372036854775809,18446744073709551616]"#),
        (#"{"a":1,"a":2}"#, #"{"a":2}"#),
        (#"{"a":1,"a":null}"#, #"{"a":null}"#),
        (#"{"a":null,"a":3}"#, #"{"a":3}"#),
    ])
    func decodeEncodeIsLossless(input: String, expected: String) throws {
        #expect(try roundTrip(input) == expected)
    }

    @Test func nullMembersReadAsNilButAreRemembered() throws {
        let state = try LuaState()
        state.installJSONModule()
        let script = """
            local r = json.decode('{"email":null,"name":"x"}')
            local seen = {}
            for k in pairs(r) do seen[#seen + 1] = k end
            return { isnil = r.email == nil, keys = seen, passthrough = json.encode(r) }
            """
        let result = try evaluate(state, script)
        #expect(result["isnil"] == .bool(true))
        #expect(result["keys"] == .array(["name"]))
        #expect(result["passthrough"] == .string(#"{"email":null,"name":"x"}"#))
    }

    @Test func aRuleSettingARememberedNullWins() throws {
        let state = try LuaState()
        state.installJSONModule()
        let result = try evaluate(
            state, #"local r = json.decode('{"email":null}') r.email = "a@b.co" return json.encode(r)"#)
        #expect(result == .string(#"{"email":"a@b.co"}"#))
    }

    @Test func objectsWithTheSameNullKeysShareAHiddenMetatableButNotTheirMembers() throws {
        let state = try LuaState()
        state.installJSONModule()
        let script = """
            local a = json.decode('{"x":null,"y":1}')
            local b = json.decode('{"y":2,"x":null}')
            local c = json.decode('{"x":null,"y":3}')
            a.x = "set"
            return { json.encode({ a, b, c }), getmetatable(c), pcall(setmetatable, c, {}) }
            """
        #expect(
            try evaluate(state, script)
                == [
                    #"[{"x":"set","y":1},{"x":null,"y":2},{"x":null,"y":3}]"#, "json.object", false,
                    "cannot change a protected metatable",
                ])
    }

    @Test func nullsPastTheSharedPatternsAndLongKeysStillComeBack() throws {
        let state = try LuaState()
        state.installJSONModule()
        let long = String(repeating: "k", count: 60)
        let objects = (0..<(LuaNullsMetatables.capacity + 8)).map { #"{"n\#($0)":null,"\#(long)":null,"v":\#($0)}"# }
        let script =
            "local out = {} for i, s in ipairs({'" + objects.joined(separator: "','")
            + "'}) do out[i] = json.encode(json.decode(s)) end return out"
        let result = try evaluate(state, script)
        #expect(
            result == .array(objects.indices.map { .string(#"{"\#(long)":null,"n\#($0)":null,"v":\#($0)}"#) }))
    }

    @Test func arrayNullsKeepPositionsAndLength() throws {
        let state = try LuaState()
        state.installJSONModule()
        let result = try evaluate(state, #"local a = json.decode('[1,null,3]') return {#a, a[2] == json.null}"#)
        #expect(result == .array([.integer(3), .bool(true)]))
    }

    @Test func explicitMarkersForEmptyContainers() throws {
        let state = try LuaState()
        state.installJSONModule()
        #expect(try evaluate(state, "return json.encode(json.array())") == .string("[]"))
        #expect(try evaluate(state, "return json.encode(json.object({}))") == .string("{}"))
        #expect(try evaluate(state, "return json.encode({})") == .string("{}"))
        #expect(try evaluate(state, "return json.encode({a = json.null})") == .string(#"{"a":null}"#))
    }

    @Test(arguments: [
        (
            "return json.encode({1, 2, x = 3})",
            "json.encode: table mixes list items and named keys; use one or the other"
        ),
        (
            "return json.encode({[1] = 1, [3] = 3})",
            "json.encode: list has holes (2 items but index 3); use json.null for missing items"
        ),
        ("return json.encode({f = print})", "json.encode: f: a function value cannot be sent as JSON"),
        (
            "return json.encode({x = 0/0})",
            "json.encode: x: NaN cannot be sent as JSON (NaN and infinity are not numbers in JSON)"
        ),
        (
            "local t = {} t.self = t return json.encode(t)",
            "json.encode: self: table contains itself (a cycle cannot be sent as JSON)"
        ),
        ("return json.encode({s = '\\255'})", "json.encode: s: string is not valid UTF-8"),
        (
            "return json.encode({[true] = 1})",
            "json.encode: a boolean key cannot be sent as JSON (keys must be strings, or 1..n for a list)"
        ),
    ])
    func valuesJSONCannotHoldAreRejectedWithTheirPath(script: String, message: String) throws {
        let state = try LuaState()
        state.installJSONModule()
        #expect {
            _ = try evaluate(state, script)
        } throws: { ($0 as! LuaError).message == "test:1: " + message }
    }

    @Test func decodeErrorsGiveTheByteOffset() throws {
        let state = try LuaState()
        state.installJSONModule()
        #expect {
            _ = try evaluate(state, #"return json.decode('{"a":1,}')"#)
        } throws: { ($0 as! LuaError).message == "test:1: invalid JSON at byte 7: expected a string key, found '}'" }
    }

    @Test func depthIsCappedWithAnErrorNotACrash() throws {
        let state = try LuaState()
        state.installJSONModule()
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect {
            _ = try evaluate(state, "return json.decode('\(deep)')")
        } throws: { ($0 as! LuaError).message.contains("nesting deeper than 512 levels") }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { _ = try evaluate(state, "return json.decode('\(ok)')") }
    }

    @Test func pushAndReadBackAJSONValue() throws {
        let state = try LuaState()
        let value: JSONValue = ["b": [1, 2.5, "x", nil, true], "a": ["nested": nil], "e": [:], "l": []]
        state.push(json: value)
        #expect(try state.toJSON(at: -1) == value)
    }

    // MARK: Integers beyond 64 bits

    @Test func bigIntegerKeepsItsDigitsThroughTostringConcatAndEquality() throws {
        let state = try LuaState()
        state.installJSONModule()
        let script = """
            local r = json.decode('{"a":12345678901234567890,"b":12345678901234567890,"c":-99999999999999999999}')
            return { s = tostring(r.a), c = "id:" .. r.a .. ":" .. 1, eq = r.a == r.b, ne = r.a == r.c,
              t = type(r.a), back = r.c }
            """
        let result = try evaluate(state, script)
        #expect(
            result == [
                "s": "12345678901234567890", "c": "id:12345678901234567890:1", "eq": true, "ne": false, "t": "userdata",
                "back": .bigInteger("-99999999999999999999"),
            ])
    }

    @Test(arguments: ["r.a + 1", "-r.a", "r.a < 5", "r.a // 2", "#r.a", "r.a.x", "r.a & 1"])
    func arithmeticOnABigIntegerRaisesInsteadOfRounding(expression: String) throws {
        let state = try LuaState()
        state.installJSONModule()
        let error = #expect(throws: LuaError.self) {
            _ = try evaluate(state, "local r = json.decode('{\"a\":12345678901234567890}') return \(expression)")
        }
        #expect(
            error?.message.contains("test:1: integer 12345678901234567890 does not fit in 64 bits") == true,
            "\(String(describing: error))")
    }

    @Test func bigIntegerMetatableIsHiddenFromRules() throws {
        let state = try LuaState()
        state.installJSONModule()
        let result = try evaluate(state, "local r = json.decode('[12345678901234567890]') return getmetatable(r[1])")
        #expect(result == "integer")
    }

    @Test func pushedBigIntegerValueConvertsBack() throws {
        let state = try LuaState()
        state.installJSONModule()
        let value: JSONValue = [
            "id": .bigInteger("123456789012345678901234567890"), "n": [.bigInteger("-9223372036854775809")],
        ]
        state.push(json: value)
        #expect(try state.toJSON(at: -1) == value)
    }

    // MARK: Repeated keys

    @Test func repeatedKeysAreCountedOncePerRepeatAndReportedOnceAsNew() throws {
        let state = try LuaState()
        state.installJSONModule()
        _ = try evaluate(state, #"return json.decode('{"a":1,"b":{"a":1,"a":2},"a":3,"c":[{"d":1,"d":2}]}')"#)
        #expect(state.jsonDuplicateKeys.counts.map { "\($0.key)=\($0.repeats)" } == ["a=2", "d=1"])
        #expect(state.takeNewJSONDuplicateKeys() == ["a", "d"])
        #expect(state.takeNewJSONDuplicateKeys() == [])
        _ = try evaluate(state, #"return json.decode('{"d":1,"d":2,"e":1,"e":2}')"#)
        #expect(state.takeNewJSONDuplicateKeys() == ["e"])
        #expect(state.jsonDuplicateKeys.counts.map { "\($0.key)=\($0.repeats)" } == ["a=2", "d=2", "e=1"])
    }

    /// Many distinct keys (so the fingerprint collides often) are never reported as repeats.
    @Test func distinctKeysAreNeverReportedAsRepeats() throws {
        let state = try LuaState()
        state.installJSONModule()
        let members =
            (0..<300).map { #""k\#($0)":\#($0)"# }
            + (0..<40).map { #""\#(String(repeating: "x", count: $0 + 1))":null"# }
        let text = "{" + members.joined(separator: ",") + "}"
        try Array(text.utf8).withUnsafeBytes { try state.pushJSON(parsing: $0) }
        #expect(try state.toJSON(at: -1) == (try JSONValue(parsing: text)))
        #expect(state.jsonDuplicateKeys.counts.isEmpty)
    }

    // MARK: The builder's open containers

    /// Nesting past the builder's first room for open containers (16): each level's members,
    /// nulls, list indexes and repeated keys stay with their own level, in the first decoding
    /// (which grows the room) and the next ones (which reuse it), and after a decoding that failed
    /// half-way down.
    @Test func deepNestingKeepsEachLevelsMembersAcrossDecodings() throws {
        let state = try LuaState()
        state.installJSONModule()
        func nested(_ levels: Int) -> String {
            var text = "1"
            for level in 0..<levels {
                text =
                    level.isMultiple(of: 3)
                    ? #"[\#(level),null,\#(text),"x"]"#
                    : #"{"z":\#(level),"n":null,"k":\#(text),"z":"\#(level)","a":[]}"#
            }
            return text
        }
        for levels in [40, 17, 100] {
            let text = nested(levels)
            try Array(text.utf8).withUnsafeBytes { try state.pushJSON(parsing: $0) }
            #expect(try state.toJSON(at: -1) == (try JSONValue(parsing: text)), "\(levels) levels")
            state.top = 0
            let broken = Array(nested(60).utf8.dropLast(7))
            #expect(throws: JSONParseError.self) { try broken.withUnsafeBytes { try state.pushJSON(parsing: $0) } }
            #expect(state.top == 0)
        }
        // One repeat per object level (every level not a multiple of 3), the failed decodings'
        // included: each got back out to its outermost level before it failed.
        let objectLevels = { (levels: Int) in levels - (levels + 2) / 3 }
        let repeats = objectLevels(40) + objectLevels(17) + objectLevels(100) + 3 * objectLevels(60)
        #expect(state.jsonDuplicateKeys.counts.map { "\($0.key)=\($0.repeats)" } == ["z=\(repeats)"])
    }
}
