import JSONKit
import Testing

/// Parses UTF-8 bytes and returns the parse error, or nil when the bytes are valid JSON.
func parseError(_ bytes: [UInt8], maxDepth: Int = 512) -> JSONParseError? {
    do throws(JSONParseError) {
        _ = try JSONValue(parsing: bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

/// `depth` nested arrays around one integer: `[[[1]]]` for 3.
func nestedArrays(_ depth: Int) -> String {
    String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
}

/// `depth` nested objects around one integer: `{"a":{"a":1}}` for 2.
func nestedObjects(_ depth: Int) -> String {
    String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
}

/// Records the builder callbacks, to pin the event stream LuaKit's builder relies on.
struct RecordingBuilder: JSONBuilder {
    var events: [String] = []

    mutating func beginObject() { events.append("{") }
    mutating func key(_ utf8: UnsafeRawBufferPointer) { events.append("key \(String(decoding: utf8, as: UTF8.self))") }
    mutating func endMember() { events.append("endMember") }
    mutating func endObject() { events.append("}") }
    mutating func beginArray() { events.append("[") }
    mutating func endElement() { events.append("endElement") }
    mutating func endArray() { events.append("]") }
    mutating func null() { events.append("null") }
    mutating func bool(_ value: Bool) { events.append("bool \(value)") }
    mutating func integer(_ value: Int64) { events.append("integer \(value)") }
    mutating func bigInteger(_ digits: UnsafeRawBufferPointer) {
        events.append("bigInteger \(String(decoding: digits, as: UTF8.self))")
    }
    mutating func double(_ value: Double) { events.append("double \(value)") }
    mutating func string(_ utf8: UnsafeRawBufferPointer) {
        events.append("string \(String(decoding: utf8, as: UTF8.self))")
    }
}

@Suite struct JSONParserRoundTripTests {
    /// JSON text and its compact re-encoding: numbers keep their kind, keys come out sorted by
    /// UTF-8 bytes with the last duplicate winning, escapes are decoded and written canonically.
    static let roundTrips: [(input: String, encoded: String)] = [
        // Integers stay integers, exact across the whole Int64 range.
        ("10", "10"),
        ("-10", "-10"),
        ("0", "0"),
        ("-0", "0"),
        ("12345678901234567", "12345678901234567"),
        ("9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808", "-9223372036854775808"),
        // Integers beyond Int64 keep their digits: never rounded to a float, never wrapped.
        ("9223372036854775808", "9223372036854775808"),
        ("-9223372036854775809", "-9223372036854775809"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("{\"id\":12345678901234567890}", "{\"id\":12345678901234567890}"),
        // Floats stay floats, in Swift's shortest round-trip spelling.
        ("10.0", "10.0"),
        ("0.0", "0.0"),
        ("-0.0", "-0.0"),
        ("1.5", "1.5"),
        ("0.1", "0.1"),
        ("1e2", "100.0"),
        ("1E+2", "100.0"),
        ("1.5e-7", "1.5e-07"),
        ("1e16", "1e+16"),
        ("12345678901234567.0", "1.2345678901234568e+16"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("5e-324", "5e-324"),
        ("1e-400", "0.0"),
        // Literals.
        ("true", "true"),
        ("false", "false"),
        ("null", "null"),
        // Empty and nested empty containers; insignificant white space dropped.
        ("[]", "[]"),
        ("{}", "{}"),
        ("[[]]", "[[]]"),
        ("[{}]", "[{}]"),
        (#"{"a":{}}"#, #"{"a":{}}"#),
        (#"{"a":[[],{}],"b":[[[]]]}"#, #"{"a":[[],{}],"b":[[[]]]}"#),
        (" \t\r\n[ 1 , \"x\" ,null,true , 1.0 ]\n ", #"[1,"x",null,true,1.0]"#),
        (#"{ "a" : 1 }"#, #"{"a":1}"#),
        // Keys sorted by UTF-8 bytes (not UTF-16: U+FF61 comes before U+1F600), last duplicate wins.
        (#"{"b":1,"a":2}"#, #"{"a":2,"b":1}"#),
        (#"{"a":1,"b":2,"a":3}"#, #"{"a":3,"b":2}"#),
        (#"{"z":{"y":1,"x":2},"m":[{"d":1,"c":2}]}"#, #"{"m":[{"c":2,"d":1}],"z":{"x":2,"y":1}}"#),
        (#"{"é":1,"z":2,"Z":3,"aa":4,"a":5}"#, #"{"Z":3,"a":5,"aa":4,"z":2,"é":1}"#),
        (#"{"😀":1,"｡":2}"#, #"{"｡":2,"😀":1}"#),
        (#"{"":1}"#, #"{"":1}"#),
        // Escapes decode; output escapes only what JSON requires and writes non-ASCII raw.
        (#""\u00e9""#, #""é""#),
        (#""\ud83d\ude00""#, #""😀""#),
        (#""\uD83D\uDE00""#, #""😀""#),
        (#""\udbff\udfff""#, "\"\u{10FFFF}\""),
        (#""\uFFFF""#, "\"\u{FFFF}\""),
        (#""\u0041\u00DF""#, #""Aß""#),
        (#""é😀""#, #""é😀""#),
        (#""\"\\\/\b\f\n\r\t""#, #""\"\\/\b\f\n\r\t""#),
        (#""\u0000\u001F\u007f""#, "\"\\u0000\\u001f\u{7F}\""),
        (#""</script>""#, #""</script>""#),
        (#"{"a\nb":"c\u0022d"}"#, #"{"a\nb":"c\"d"}"#),
    ]

    @Test(arguments: roundTrips)
    func validJSONReencodesToExactText(input: String, encoded: String) throws {
        let value = try JSONValue(parsing: input)
        // Bytes, not String ==, which would accept a canonically equivalent spelling.
        #expect(Array(value.encoded().utf8) == Array(encoded.utf8), "got \(value.encoded())")
    }

    @Test(arguments: roundTrips)
    func reencodedTextIsAFixedPoint(input: String, encoded: String) throws {
        let value = try JSONValue(parsing: encoded)
        #expect(Array(value.encoded().utf8) == Array(encoded.utf8), "got \(value.encoded())")
        #expect(value == (try JSONValue(parsing: input)))
    }

    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONValue(parsing: "10") == .integer(10))
        #expect(try JSONValue(parsing: "10.0") == .double(10))
        #expect(try JSONValue(parsing: "1e2") == .double(100))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .integer(.min))
        #expect(try JSONValue(parsing: "9223372036854775808") == .bigInteger("9223372036854775808"))
        #expect(try JSONValue(parsing: "-12345678901234567890") == .bigInteger("-12345678901234567890"))
        #expect(try JSONValue(parsing: "12345678901234567890.0") == .double(12_345_678_901_234_567_890))
        #expect(try JSONValue(parsing: "1e30") == .double(1e30))
    }

    @Test func bigIntegersReachTheBuilderAsTheirDigits() throws {
        var parser = JSONParser()
        var builder = RecordingBuilder()
        let text = Array("[18446744073709551616,-9223372036854775809,9223372036854775807]".utf8)
        try text.withUnsafeBytes { try parser.parse($0, into: &builder) }
        #expect(
            builder.events == [
                "[", "bigInteger 18446744073709551616", "endElement", "bigInteger -9223372036854775809", "endElement",
                "integer 9223372036854775807", "endElement", "]",
            ])
    }

    /// A builder with no way to hold a big integer refuses it at its offset; it never rounds it.
    @Test func builderWithoutBigIntegersRefusesThemWithTheirDigitsAndOffset() throws {
        struct IntegersOnly: JSONBuilder {
            var integers: [Int64] = []
            mutating func beginObject() {}
            mutating func key(_ utf8: UnsafeRawBufferPointer) {}
            mutating func endMember() {}
            mutating func endObject() {}
            mutating func beginArray() {}
            mutating func endElement() {}
            mutating func endArray() {}
            mutating func null() {}
            mutating func bool(_ value: Bool) {}
            mutating func integer(_ value: Int64) { integers.append(value) }
            mutating func double(_ value: Double) {}
            mutating func string(_ utf8: UnsafeRawBufferPointer) {}
        }
        var parser = JSONParser()
        var builder = IntegersOnly()
        let text = Array("[1, 12345678901234567890]".utf8)
        let error = #expect(throws: JSONParseError.self) {
            try text.withUnsafeBytes { try parser.parse($0, into: &builder) }
        }
        #expect(
            error
                == JSONParseError(
                    offset: 4, reason: "integer 12345678901234567890 does not fit in 64 bits; quote it as a string"))
        #expect(builder.integers == [1])
    }

    @Test func escapedAndRawStringsDecodeToTheSameText() throws {
        #expect(try JSONValue(parsing: #""caf\u00e9 \ud83d\ude00""#) == .string("café 😀"))
        #expect(try JSONValue(parsing: #""a\u0000b""#) == .string("a\u{0}b"))
    }

    @Test func parsesFromAnyByteCollection() throws {
        let bytes: [UInt8] = Array(#"xx{"a":[1,2]}yy"#.utf8)
        let value = try JSONValue(parsing: bytes[2..<(bytes.count - 2)])
        #expect(value == ["a": [1, 2]])
    }

    @Test func parserReportsBuilderEventsInDocumentOrder() throws {
        var parser = JSONParser()
        var builder = RecordingBuilder()
        let text = Array(#"{"k":[1,-2.5,"s\n",true,null,{}],"e":[]}"#.utf8)
        try text.withUnsafeBytes { try parser.parse($0, into: &builder) }
        #expect(
            builder.events == [
                "{", "key k", "[",
                "integer 1", "endElement", "double -2.5", "endElement", "string s\n", "endElement",
                "bool true", "endElement", "null", "endElement", "{", "}", "endElement",
                "]", "endMember",
                "key e", "[", "]", "endMember",
                "}",
            ])
    }

    @Test func oneParserCanBeReusedAfterAnError() throws {
        var parser = JSONParser()
        var builder = JSONValueBuilder()
        let bad = Array(#"["a\nb", x]"#.utf8)
        #expect(throws: JSONParseError(offset: 9, reason: "unexpected 'x', expected a value")) {
            try bad.withUnsafeBytes { try parser.parse($0, into: &builder) }
        }
        builder = JSONValueBuilder()
        let good = Array(#"["c\td"]"#.utf8)
        try good.withUnsafeBytes { try parser.parse($0, into: &builder) }
        #expect(builder.result == ["c\td"])
    }
}

@Suite struct JSONParserRejectionTests {
    /// Invalid JSON text and the exact error, with the byte offset where reading stopped.
    static let invalidTexts: [(input: String, error: String)] = [
        ("", "invalid JSON at byte 0: empty input, expected a value"),
        ("   ", "invalid JSON at byte 3: unexpected end of input, expected a value"),
        ("[", "invalid JSON at byte 1: unexpected end of input, expected a value"),
        ("{", "invalid JSON at byte 1: expected a string key, found end of input"),
        ("[1", "invalid JSON at byte 2: unexpected end of input inside an array"),
        (#"{"a":1"#, "invalid JSON at byte 6: unexpected end of input inside an object"),
        // Trailing commas.
        ("[1,]", "invalid JSON at byte 3: unexpected ']', expected a value"),
        (#"{"a":1,}"#, "invalid JSON at byte 7: expected a string key, found '}'"),
        // Missing separators and bad keys.
        ("[1 2]", "invalid JSON at byte 3: expected ',' or ']' in an array, found '2'"),
        (#"{"a":1 "b":2}"#, #"invalid JSON at byte 7: expected ',' or '}' in an object, found '"'"#),
        (#"{"a" 1}"#, "invalid JSON at byte 5: expected ':' after an object key, found '1'"),
        ("{a:1}", "invalid JSON at byte 1: expected a string key, found 'a'"),
        ("{1:1}", "invalid JSON at byte 1: expected a string key, found '1'"),
        // Numbers.
        ("01", "invalid JSON at byte 1: numbers cannot have leading zeros"),
        ("00", "invalid JSON at byte 1: numbers cannot have leading zeros"),
        ("-01", "invalid JSON at byte 2: numbers cannot have leading zeros"),
        ("-", "invalid JSON at byte 1: expected a digit after '-'"),
        ("-a", "invalid JSON at byte 1: expected a digit after '-'"),
        ("1.", "invalid JSON at byte 2: expected a digit after '.'"),
        ("1.e5", "invalid JSON at byte 2: expected a digit after '.'"),
        (".5", "invalid JSON at byte 0: unexpected '.', expected a value"),
        ("+1", "invalid JSON at byte 0: unexpected '+', expected a value"),
        ("1e", "invalid JSON at byte 2: expected a digit in the exponent"),
        ("1e+", "invalid JSON at byte 3: expected a digit in the exponent"),
        ("1e400", "invalid JSON at byte 0: number 1e400 is out of range"),
        ("[0,-1e400]", "invalid JSON at byte 3: number -1e400 is out of range"),
        ("NaN", "invalid JSON at byte 0: unexpected 'N', expected a value"),
        ("Infinity", "invalid JSON at byte 0: unexpected 'I', expected a value"),
        // Literals.
        ("tru", "invalid JSON at byte 0: unexpected 't', expected a value"),
        ("True", "invalid JSON at byte 0: unexpected 'T', expected a value"),
        ("[nul]", "invalid JSON at byte 1: unexpected 'n', expected a value"),
        // Trailing garbage.
        ("1 2", "invalid JSON at byte 2: unexpected '2' after the value"),
        ("{} x", "invalid JSON at byte 3: unexpected 'x' after the value"),
        ("nulll", "invalid JSON at byte 4: unexpected 'l' after the value"),
        ("[1,2]]", "invalid JSON at byte 5: unexpected ']' after the value"),
        ("[1]\u{0}", "invalid JSON at byte 3: unexpected byte 0x0 after the value"),
        // A byte order mark and bare non-ASCII are not values.
        ("\u{FEFF}1", "invalid JSON at byte 0: unexpected byte 0xEF, expected a value"),
        ("é", "invalid JSON at byte 0: unexpected byte 0xC3, expected a value"),
        // Strings.
        (#""abc"#, "invalid JSON at byte 0: unterminated string"),
        (#"["abc]"#, "invalid JSON at byte 1: unterminated string"),
        (#""a\""#, "invalid JSON at byte 0: unterminated string"),
        (#""ab\"#, "invalid JSON at byte 4: unterminated escape"),
        (#""\x""#, #"invalid JSON at byte 2: invalid escape \'x'"#),
        (#""\U0041""#, #"invalid JSON at byte 2: invalid escape \'U'"#),
        (#""\u12""#, #"invalid JSON at byte 3: truncated \u escape"#),
        (#""\u12G4""#, #"invalid JSON at byte 5: invalid hex digit in a \u escape"#),
        // Lone and mismatched surrogates.
        (#""\ud800""#, #"invalid JSON at byte 7: lone surrogate \ud800 in a string"#),
        (#""\ud83dx""#, #"invalid JSON at byte 7: lone surrogate \ud83d in a string"#),
        (#""\udc00""#, #"invalid JSON at byte 7: lone surrogate \udc00 in a string"#),
        (#""\ude00\ud83d""#, #"invalid JSON at byte 7: lone surrogate \ude00 in a string"#),
        (#""\ud83d\u0041""#, "invalid JSON at byte 13: invalid surrogate pair in a string"),
        (#""\ud83d\ud83d""#, "invalid JSON at byte 13: invalid surrogate pair in a string"),
        // Raw control characters, on the fast path and after an escape.
        ("\"a\tb\"", #"invalid JSON at byte 2: control character in a string (escape it as \u0009)"#),
        ("\"\n\"", #"invalid JSON at byte 1: control character in a string (escape it as \u000a)"#),
        ("\"\u{10}\"", #"invalid JSON at byte 1: control character in a string (escape it as \u0010)"#),
        ("\"\u{1F}\"", #"invalid JSON at byte 1: control character in a string (escape it as \u001f)"#),
        ("{\"\u{0}\":1}", #"invalid JSON at byte 2: control character in a string (escape it as \u0000)"#),
        ("\"\\n\n\"", "invalid JSON at byte 3: control character in a string"),
    ]

    @Test(arguments: invalidTexts)
    func invalidJSONIsRejectedWithExactOffsetAndReason(input: String, error: String) throws {
        let found = try #require(parseError(Array(input.utf8)), "expected \(input.debugDescription) to be rejected")
        #expect(found.description == error)
    }

    /// Strings holding bytes that are not well-formed UTF-8 (RFC 3629), and the exact error.
    static let invalidUTF8: [(bytes: [UInt8], error: String)] = [
        // Overlong two-byte forms.
        ([0x22, 0xC0, 0xAF, 0x22], "invalid JSON at byte 1: invalid UTF-8 byte 0xC0"),
        ([0x22, 0xC1, 0xBF, 0x22], "invalid JSON at byte 1: invalid UTF-8 byte 0xC1"),
        // Overlong three- and four-byte forms.
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        // An encoded surrogate (U+D800).
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        // Beyond U+10FFFF.
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], "invalid JSON at byte 1: invalid UTF-8 byte 0xF5"),
        ([0x22, 0xFF, 0x22], "invalid JSON at byte 1: invalid UTF-8 byte 0xFF"),
        // A lone continuation byte; a lead byte followed by ASCII.
        ([0x22, 0x80, 0x22], "invalid JSON at byte 1: invalid UTF-8 byte 0x80"),
        ([0x22, 0xC3, 0x41, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        // Truncated: cut by the closing quote, or by the end of input.
        ([0x22, 0xE2, 0x82, 0x22], "invalid JSON at byte 1: invalid UTF-8 sequence"),
        ([0x22, 0xE2, 0x82], "invalid JSON at byte 1: truncated UTF-8 sequence"),
        ([0x22, 0xF0, 0x9F, 0x98], "invalid JSON at byte 1: truncated UTF-8 sequence"),
        // After an escape (the copying path), and inside a key.
        ([0x22, 0x61, 0x5C, 0x6E, 0xC0, 0xAF, 0x22], "invalid JSON at byte 4: invalid UTF-8 byte 0xC0"),
        (
            [0x7B, 0x22, 0x61, 0xED, 0xA0, 0x80, 0x22, 0x3A, 0x31, 0x7D],
            "invalid JSON at byte 3: invalid UTF-8 sequence"
        ),
    ]

    @Test(arguments: invalidUTF8)
    func invalidUTF8InAStringIsRejected(bytes: [UInt8], error: String) throws {
        let found = try #require(parseError(bytes))
        #expect(found.description == error)
    }

    @Test func errorCarriesOffsetAndReasonSeparately() throws {
        let found = try #require(parseError(Array(#"{"a":[1,2,}"#.utf8)))
        #expect(found == JSONParseError(offset: 10, reason: "unexpected '}', expected a value"))
        #expect(found.offset == 10)
        #expect(found.reason == "unexpected '}', expected a value")
    }

    @Test func nestingUpTo512LevelsIsAccepted() throws {
        var value = try JSONValue(parsing: nestedArrays(512))
        var depth = 0
        while case .array(let elements) = value {
            depth += 1
            value = try #require(elements.first)
        }
        #expect(depth == 512)
        #expect(value == 1)
        #expect(parseError(Array(nestedObjects(512).utf8)) == nil)
    }

    @Test func nestingBeyond512LevelsIsRejectedAtTheOpeningBracket() throws {
        #expect(
            parseError(Array(nestedArrays(513).utf8))?.description
                == "invalid JSON at byte 512: nesting deeper than 512 levels")
        #expect(
            parseError(Array(nestedObjects(513).utf8))?.description
                == "invalid JSON at byte 2560: nesting deeper than 512 levels")
    }

    @Test func maxDepthIsConfigurable() throws {
        #expect(parseError(Array("[[1]]".utf8), maxDepth: 2) == nil)
        #expect(
            parseError(Array("[[1]]".utf8), maxDepth: 1)?.description
                == "invalid JSON at byte 1: nesting deeper than 1 levels")
        #expect(parseError(Array("1".utf8), maxDepth: 0) == nil)
        #expect(
            parseError(Array("[]".utf8), maxDepth: 0)?.description
                == "invalid JSON at byte 0: nesting deeper than 0 levels")
    }

    @Test func wellFormedMultiByteTextIsAccepted() throws {
        // U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
        let text = "\u{7F}\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"
        let value = try JSONValue(parsing: Array(("\"" + text + "\"").utf8))
        #expect(value == .string(text))
    }

    /// Floats read through the exact fast path (up to 53 bits of digits, powers of ten up to 22)
    /// and through the text reader beyond it: bit for bit what reading the text as a Double gives,
    /// for the edges of both and for 20,000 random numbers (up to 20 digits, exponents to ±40).
    @Test func floatsReadBitForBitAsTheTextSays() throws {
        var texts = [
            "0.1", "-0.0", "0.0", "1e22", "1e23", "-1e-22", "1e-23", "9007199254740992.0", "9007199254740993.0",
            "9007199254740993e-1", "0.30000000000000004", "123456789012345678.5", "5e-324", "1.7976931348623157e308",
            "4.9406564584124654e-324", "2.2250738585072014e-308", "1E+2", "1e-0", "12.5E-3", "18446744073709551616.5",
            "0.000000000000000000000000000001", "73.45", "-7.0e1", "1.00000000000000000000001",
        ]
        for _ in 0..<20_000 {
            let digit = { String(Int.random(in: 0...9)) }
            let integerDigits = Int.random(in: 0...12)
            var text = Bool.random() ? "-" : ""
            text +=
                integerDigits == 0
                ? "0" : String(Int.random(in: 1...9)) + (1..<integerDigits).map { _ in digit() }.joined()
            let fractionDigits = Int.random(in: 0...12)
            if fractionDigits > 0 { text += "." + (0..<fractionDigits).map { _ in digit() }.joined() }
            if fractionDigits == 0 || Bool.random() {
                text += "e\(Int.random(in: -40...40))"
            }
            texts.append(text)
        }
        for text in texts {
            let expected = try #require(Double(text), "\(text)")
            guard case .double(let value) = try JSONValue(parsing: Array(text.utf8)) else {
                Issue.record("\(text) did not read as a float")
                continue
            }
            #expect(value.bitPattern == expected.bitPattern, "\(text)")
        }
    }

    /// The string scan moves eight plain bytes a step and then jumps to the first byte that is
    /// not plain: whatever its offset in the step (and near the end of the input, where there is
    /// no whole step left), the string ends, unescapes, reads non-ASCII and fails exactly there.
    @Test func theFirstBytesThatAreNotPlainAreFoundAtEveryOffset() throws {
        for n in 0..<20 {
            let a = String(repeating: "a", count: n)
            for m in [0, 1, 7, 8, 9] {
                let b = String(repeating: "b", count: m)
                #expect(try JSONValue(parsing: Array(#""\#(a)""#.utf8)) == .string(a))
                #expect(try JSONValue(parsing: Array(#"{"\#(a)":"\#(b)"}"#.utf8)) == [a: .string(b)])
                #expect(try JSONValue(parsing: Array(#""\#(a)\n\#(b)""#.utf8)) == .string(a + "\n" + b))
                #expect(try JSONValue(parsing: Array(#""\#(a)\u00e9\"\#(b)""#.utf8)) == .string(a + "é\"" + b))
                #expect(
                    try JSONValue(parsing: Array("\"\(a)é\u{7F}€\u{10348}\(b)\"".utf8))
                        == .string(a + "é\u{7F}€\u{10348}" + b))
                #expect(
                    parseError(Array("\"\(a)\t\(b)\"".utf8))
                        == JSONParseError(
                            offset: 1 + n, reason: #"control character in a string (escape it as \u0009)"#))
                #expect(
                    parseError(Array("\"\(a)".utf8) + [0xFF] + Array("\(b)\"".utf8))
                        == JSONParseError(offset: 1 + n, reason: "invalid UTF-8 byte 0xFF"))
                #expect(
                    parseError(Array("\"\(a)é".utf8.dropLast()) + Array("\(b)\"".utf8))
                        == JSONParseError(offset: 1 + n, reason: "invalid UTF-8 sequence"))
                #expect(
                    parseError(Array("[\"\(a)\(b)".utf8))
                        == JSONParseError(offset: 1, reason: "unterminated string"))
            }
        }
    }
}

@Suite struct UTF8ValidationTests {
    static let cases: [(bytes: [UInt8], valid: Bool)] = [
        ([], true),
        (Array("plain ASCII".utf8), true),
        ([0xC3, 0xA9], true),  // é
        ([0xF0, 0x9F, 0x98, 0x80], true),  // 😀
        ([0xED, 0x9F, 0xBF], true),  // U+D7FF, last before the surrogates
        ([0xEF, 0xBF, 0xBF], true),  // U+FFFF
        ([0xF4, 0x8F, 0xBF, 0xBF], true),  // U+10FFFF
        ([0xC0, 0xAF], false),  // overlong '/'
        ([0xE0, 0x80, 0xAF], false),  // overlong
        ([0xED, 0xA0, 0x80], false),  // U+D800
        ([0xF4, 0x90, 0x80, 0x80], false),  // U+110000
        ([0xF5, 0x80, 0x80, 0x80], false),
        ([0x80], false),
        ([0xE2, 0x82], false),  // truncated at the end
        ([0x61, 0xC3], false),
        ([0xE2, 0x82, 0x41], false),
    ]

    /// The parser's own check (the one the tool runs), on the bytes inside a JSON string.
    @Test(arguments: cases)
    func parserUTF8FollowsRFC3629(bytes: [UInt8], valid: Bool) {
        let document = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
        let parsed = try? JSONValue(parsing: document)
        #expect((parsed != nil) == valid)
        if valid { #expect(parsed == .string(String(decoding: bytes, as: UTF8.self))) }
    }
}
