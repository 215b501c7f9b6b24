import CLua
import JSONKit
import Testing

@testable import LuaKit

/// The one-pass encoder against the tree path it replaces on the hot path: the same bytes for
/// every value `toJSON` takes, a refusal for every value it rejects (whose message `toJSON` still
/// gives), and nothing charged when it refuses.
@Suite struct LuaJSONEncoderTests {
    enum Outcome: Equatable {
        case json(String)
        case refused
    }

    /// Runs `script` (which returns one value) and encodes the value both ways: the encoder, and
    /// `toJSON` + `JSONWriter` (the slow path), which gives the text or its error message.
    func bothWays(_ script: String, maxBytes: Int? = nil) throws -> (
        fast: Outcome, slow: Result<String, LuaConversionError>
    ) {
        let state = try LuaState()
        state.installJSONModule()
        try state.load(Array(script.utf8), chunkName: "=test")
        try state.call(arguments: 0, results: 1)
        defer { state.top = 0 }
        var encoder = LuaJSONEncoder(state: state)
        encoder.reset()
        encoder.beginValue(maxBytes: maxBytes)
        let fast: Outcome
        do {
            try encoder.encode(at: -1)
            fast = .json(String(decoding: encoder.writer.bytes, as: UTF8.self))
        } catch {
            encoder.abandon()
            fast = .refused
        }
        #expect(state.top == 1, "the encoder leaves the stack as it found it")
        let slow: Result<String, LuaConversionError>
        do {
            var writer = JSONWriter()
            writer.write(try state.toJSON(at: -1, maxBytes: maxBytes))
            slow = .success(String(decoding: writer.bytes, as: UTF8.self))
        } catch {
            slow = .failure(error)
        }
        return (fast, slow)
    }

    @Test(arguments: [
        (#"return { z = 1, a = { y = 2, b = 3 }, m = "x" }"#, #"{"a":{"b":3,"y":2},"m":"x","z":1}"#),
        // Byte order, not Unicode or case order: "Z" < "a" < "z" < "é".
        (#"return { ["é"] = 1, z = 2, a = 3, Z = 4, ab = 5, [""] = 6 }"#, #"{"":6,"Z":4,"a":3,"ab":5,"z":2,"é":1}"#),
        (#"return { 1, 2.5, -0.0, 1e-7, 1e300, 0.1, 10.0 }"#, #"[1,2.5,-0.0,1e-07,1e+300,0.1,10.0]"#),
        (#"return { math.maxinteger, math.mininteger, 0, -7 }"#, #"[9223372036854775807,-9223372036854775808,0,-7]"#),
        (
            #"return json.decode('{"big":12345678901234567890,"neg":-9223372036854775809}')"#,
            #"{"big":12345678901234567890,"neg":-9223372036854775809}"#
        ),
        (#"return { s = "q\"b\\n\n\r\t\b\f\1\31é日本" }"#, #"{"s":"q\"b\\n\n\r\t\b\f\u0001\u001fé日本"}"#),
        (#"return {}"#, #"{}"#),
        (#"return json.array{}"#, #"[]"#),
        (#"return json.object{}"#, #"{}"#),
        (#"return { a = json.array{}, b = json.object{}, c = {} }"#, #"{"a":[],"b":{},"c":{}}"#),
        (#"return { 1, json.null, 3 }"#, #"[1,null,3]"#),
        (#"return { a = json.null, b = true, c = false }"#, #"{"a":null,"b":true,"c":false}"#),
        (#"return json.decode('{"email":null,"x":1,"n":{"k":null}}')"#, #"{"email":null,"n":{"k":null},"x":1}"#),
        (#"local r = json.decode('{"email":null,"x":1}') r.email = "a@b.co" return r"#, #"{"email":"a@b.co","x":1}"#),
        (#"local t = { [3] = "c" } t[1] = "a" t[2] = "b" return t"#, #"["a","b","c"]"#),
        (
            #"local t = {} for i = 40, 1, -1 do t[i] = i end return t"#,
            "[" + (1...40).map(String.init).joined(separator: ",") + "]"
        ),
        (#"local s = { x = 1 } return { s, s, { s } }"#, #"[{"x":1},{"x":1},[{"x":1}]]"#),
        (#"return "plain""#, #""plain""#),
        (#"return 42"#, #"42"#),
        (#"return nil"#, #"null"#),
    ])
    func writesWhatTheTreePathWrites(script: String, expected: String) throws {
        let (fast, slow) = try bothWays(script)
        #expect(fast == .json(expected))
        #expect(try slow.get() == expected)
    }

    /// Values the one C call per table (`encl_members`) reads in place, each against the tree
    /// path: non-ASCII and escaped text, integers at the edges and past 64 bits, -0.0, floats that
    /// print with exponents, booleans and nulls in lists, remembered nulls in nested objects.
    @Test(arguments: [
        #"return { a = "日本語", b = "é\u{1F600}", c = "tab\there", d = "" }"#,
        #"return { math.maxinteger, math.mininteger, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 123456789.125 }"#,
        #"return { true, false, json.null, "x", 1, 2.5, { k = json.null } }"#,
        #"return json.decode('{"big":-123456789012345678901234567890,"l":[18446744073709551616,1]}')"#,
        #"return json.decode('{"o":{"n":null,"m":{"p":null,"q":[null,{"r":null}]}},"z":null}')"#,
        #"local r = json.decode('{"o":{"n":null,"k":1},"z":null}') r.o.n = "set" r.z = nil r.o.k = nil return r"#,
        #"return { [1] = "a", [2] = { [1] = { x = "y" } } }"#,
        #"local t = json.array{} t[1] = "only" return t"#,
        // Keys alike in their first eight bytes, NUL bytes and prefixes (the sort's tie-breaks).
        #"return { abcdefgh1 = 1, abcdefgh = 2, ["abcdefgh\0"] = 3, ["a\0"] = 4, a = 5, [""] = 6, abcdefgi = 7, ["\0"] = 8 }"#,
    ])
    func readsValuesInPlaceLikeTheTreePath(script: String) throws {
        let (fast, slow) = try bothWays(script)
        #expect(fast == .json(try slow.get()))
    }

    /// A string member goes out with its key in one append only when the key needs no escaping
    /// and the value is plain ASCII, both at most 240 bytes; every other pair takes the two-step
    /// path, with the same bytes. Keys and values at the length limit and one past it, escapes on
    /// either side, non-ASCII on either side, NUL bytes, the empty string, the first and a later
    /// member, and nested objects.
    @Test(arguments: [
        #"return { a = "v", ["k\"q"] = "v", ["k\\"] = "v", ["t\t"] = "v", ["é"] = "plain", b = "é" }"#,
        #"return { c = "tab\there", d = "q\"", e = "\0", ["\0"] = "x", [""] = "", f = "\127" }"#,
        "return { k = string.rep('a', 240), l = string.rep('b', 241), m = string.rep('c', 239) .. 'é' }",
        "return { [string.rep('k', 240)] = 'v', [string.rep('l', 241)] = 'w', [string.rep('m', 240)] = string.rep('n', 240) }",
        #"return { o = { p = "q", r = { s = "t" } }, u = { "v", "w" } }"#,
    ])
    func writesPlainStringMembersInOneAppendLikeTheTreePath(script: String) throws {
        let (fast, slow) = try bothWays(script)
        #expect(fast == .json(try slow.get()))
    }

    /// More members than the encoder's first buffer holds (64), nested, and more remembered nulls
    /// than that: the table is read again into a larger buffer, with the same bytes.
    @Test func tablesWiderThanTheFirstBufferGrowIt() throws {
        let members = (0..<150).map { "m\($0) = { " + (0..<90).map { "k\($0) = \($0)" }.joined(separator: ", ") + " }" }
        let (fast, slow) = try bothWays("return { " + members.joined(separator: ", ") + " }")
        #expect(fast == .json(try slow.get()))
        let list = "return { " + (1...200).map { "\"s\($0)\"" }.joined(separator: ", ") + " }"
        let (fastList, slowList) = try bothWays(list)
        #expect(fastList == .json(try slowList.get()))
        let nulls = "{" + (0..<130).map { "\"n\($0)\":null" }.joined(separator: ",") + ",\"x\":1}"
        let (fastNulls, slowNulls) = try bothWays("return json.decode('\(nulls)')")
        #expect(fastNulls == .json(try slowNulls.get()))
        #expect(try slowNulls.get().hasPrefix(#"{"n0":null,"n1":null,"n10":null"#))
    }

    @Test func sortsManyKeysLikeTheTreePath() throws {
        let keys = (0..<300).map { "k\(($0 * 7919) % 1000)" }
        let script = "return {" + keys.map { "\($0) = 1" }.joined(separator: ",") + "}"
        let (fast, slow) = try bothWays(script)
        #expect(fast == .json(try slow.get()))
    }

    @Test(arguments: [
        (#"return { s = "\255" }"#, "s: string is not valid UTF-8"),
        (#"return { ["\255"] = 1 }"#, "a key is not valid UTF-8"),
        (#"local t = {} t.self = t return t"#, "self: table contains itself (a cycle cannot be sent as JSON)"),
        (#"return { 1, x = 2 }"#, "table mixes list items and named keys; use one or the other"),
        (#"return { [1] = 1, [3] = 3 }"#, "list has holes (2 items but index 3); use json.null for missing items"),
        (#"return { [0] = 1 }"#, "list index 0 is not positive (lists start at 1)"),
        (#"return { [true] = 1 }"#, "a boolean key cannot be sent as JSON (keys must be strings, or 1..n for a list)"),
        (#"return { [1.5] = 1 }"#, "a number key cannot be sent as JSON (keys must be strings, or 1..n for a list)"),
        (#"return { f = print }"#, "f: a function value cannot be sent as JSON"),
        (#"return { n = 0/0 }"#, "n: NaN cannot be sent as JSON (NaN and infinity are not numbers in JSON)"),
        (#"return { math.huge }"#, "[0]: infinity cannot be sent as JSON (NaN and infinity are not numbers in JSON)"),
        (
            #"return { 1, -math.huge }"#,
            "[1]: -infinity cannot be sent as JSON (NaN and infinity are not numbers in JSON)"
        ),
        (#"return { a = { b = { "ok", "\192\128" } } }"#, "a.b[1]: string is not valid UTF-8"),
        (#"return { a = { ["\237\160\128"] = 1 } }"#, "a: a key is not valid UTF-8"),
        (
            #"return { a = { 1, 2, [4] = 4 } }"#,
            "a: list has holes (3 items but index 4); use json.null for missing items"
        ),
        (#"return { [-1] = "x" }"#, "list index -1 is not positive (lists start at 1)"),
        (#"return { a = { string.gmatch("a", "a") } }"#, "a[0]: a function value cannot be sent as JSON"),
    ])
    func refusesWhatTheTreePathRejects(script: String, message: String) throws {
        let (fast, slow) = try bothWays(script)
        #expect(fast == .refused)
        #expect(throws: LuaConversionError.self) { try slow.get() }
        if case .failure(let error) = slow { #expect(error.description == message) }
    }

    @Test func refusesPastTheDepthCapAndTakesItUpTo() throws {
        let atCap = String(repeating: "{", count: 128) + String(repeating: "}", count: 128)
        let (fast, slow) = try bothWays("return " + atCap)
        #expect(fast == .json(try slow.get()))
        let pastCap = String(repeating: "{", count: 129) + String(repeating: "}", count: 129)
        let (deepFast, deepSlow) = try bothWays("return " + pastCap)
        #expect(deepFast == .refused)
        if case .failure(let error) = deepSlow {
            #expect(error.description.hasSuffix("nested deeper than 128 levels"))
        } else {
            Issue.record("the tree path took a table past the depth cap")
        }
    }

    @Test func refusesPastTheByteBudgetWithTheTreePathsMessage() throws {
        let script = #"return { s = string.rep("x", 200) }"#
        let (fast, slow) = try bothWays(script, maxBytes: 100)
        #expect(fast == .refused)
        if case .failure(let error) = slow {
            #expect(error.description == "s: value is larger than 100 bytes, the most one event may hold; send less")
        } else {
            Issue.record("the tree path took a value past its byte budget")
        }
        let (roomy, _) = try bothWays(script, maxBytes: 400)
        #expect(roomy == .json(#"{"s":"\#(String(repeating: "x", count: 200))"}"#))
    }

    @Test func aRefusalGivesBackTheInstructionsItCharged() throws {
        let state = try LuaState()
        state.installJSONModule()
        try state.load(
            Array("local t = {} for i = 1, 5000 do t[i] = i end t[5001] = print return t".utf8), chunkName: "=t")
        try state.call(arguments: 0, results: 1)
        let before = state.limitsPointer.pointee.instructions
        var encoder = LuaJSONEncoder(state: state)
        encoder.reset()
        encoder.beginValue(maxBytes: nil)
        #expect(throws: LuaJSONEncoderRefusal.self) { try encoder.encode(at: -1) }
        #expect(state.limitsPointer.pointee.instructions > before, "5000 values charge the instruction budget")
        encoder.abandon()
        #expect(state.limitsPointer.pointee.instructions == before)
    }

    @Test func encodeObjectRefusesAListAndReusesItsBuffers() throws {
        let state = try LuaState()
        state.installJSONModule()
        try state.load(Array(#"return { 1, 2 }, { b = 1, a = { 2 } }"#.utf8), chunkName: "=t")
        try state.call(arguments: 0, results: 2)
        var encoder = LuaJSONEncoder(state: state)
        var asIs = LuaJSONMembersAsIs()
        encoder.reset()
        encoder.beginValue(maxBytes: nil)
        #expect(throws: LuaJSONEncoderRefusal.self) { try encoder.encodeObject(at: 1, filter: &asIs) }
        #expect(state.top == 2)
        encoder.reset()
        try encoder.encodeObject(at: 2, filter: &asIs)
        #expect(String(decoding: encoder.writer.bytes, as: UTF8.self) == #"{"a":[2],"b":1}"#)
        encoder.reset()
        try encoder.encodeObject(at: 2, filter: &asIs)
        #expect(String(decoding: encoder.writer.bytes, as: UTF8.self) == #"{"a":[2],"b":1}"#)
    }

    /// Writes each member under a key of its own: `q"` and a tab after the member's key.
    struct RenamingFilter: LuaJSONMemberFilter {
        mutating func encodeMember(
            key: UnsafeRawBufferPointer, value: LuaJSONMemberValue, encoder: inout LuaJSONEncoder
        ) throws(LuaJSONEncoderRefusal) {
            let renamed = Array(key) + Array("q\"\t".utf8)
            if value.type == .string {
                renamed.withUnsafeBytes { encoder.writeMemberKey($0) }
                encoder.writer.writeRaw("0")
                return
            }
            var failure: LuaJSONEncoderRefusal?
            renamed.withUnsafeBytes { bytes in
                do throws(LuaJSONEncoderRefusal) { try encoder.writeMember(key: bytes, value: value) } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
        }
    }

    /// The encoder writes a member's key unscanned only when `encl_members` found it plain and the
    /// filter writes that very key: a filter's key of its own is escaped as any other.
    @Test func aFiltersOwnKeyIsEscapedWhereTheMembersKeyIsPlain() throws {
        let state = try LuaState()
        state.installJSONModule()
        try state.load(Array(#"return { a = "x", b = 1, [""] = "y" }"#.utf8), chunkName: "=t")
        try state.call(arguments: 0, results: 1)
        var encoder = LuaJSONEncoder(state: state)
        var renaming = RenamingFilter()
        encoder.reset()
        encoder.beginValue(maxBytes: nil)
        try encoder.encodeObject(at: 1, filter: &renaming)
        #expect(
            String(decoding: encoder.writer.bytes, as: UTF8.self) == #"{"q\"\t":0,"aq\"\t":0,"bq\"\t":1}"#)
    }

    /// Keys with something to escape, or not ASCII, in plain tables, remembered nulls and lists of
    /// objects: the same bytes as the tree path.
    @Test(arguments: [
        #"return json.decode('{"q\\"k":null,"t\\tk":null,"\\u00e9":null,"p":null,"\\\\":1}')"#,
        #"return { { ["a\"b"] = 1, ["\127"] = 2, ["\31"] = 3 }, { ["日本"] = "語", plain = "x" } }"#,
    ])
    func escapesKeysThatAreNotPlainLikeTheTreePath(script: String) throws {
        let (fast, slow) = try bothWays(script)
        #expect(fast == .json(try slow.get()))
    }
}
