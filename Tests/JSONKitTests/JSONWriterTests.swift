import JSONKit
import Testing

@Suite struct JSONWriterTests {
    /// Values built in Swift and their exact compact encoding.
    static let encodings: [(value: JSONValue, text: String)] = [
        (.integer(0), "0"),
        (.integer(-1), "-1"),
        (.integer(1_000_000), "1000000"),
        (.integer(.max), "9223372036854775807"),
        (.integer(.min), "-9223372036854775808"),
        (.bigInteger("-9223372036854775809"), "-9223372036854775809"),
        (.integer(.min + 1), "-9223372036854775807"),
        (.double(10), "10.0"),
        (.double(-0.0), "-0.0"),
        (.double(0.1 + 0.2), "0.30000000000000004"),
        (.double(1e300), "1e+300"),
        (.double(-2.5e-5), "-2.5e-05"),
        (.double(Double.leastNonzeroMagnitude), "5e-324"),
        (.bool(true), "true"),
        (.null, "null"),
        (.string(""), #""""#),
        (
            .string("\u{0}\u{1}\u{8}\u{9}\u{A}\u{C}\u{D}\u{1F}\u{20}\u{7F}"),
            "\"\\u0000\\u0001\\b\\t\\n\\f\\r\\u001f \u{7F}\""
        ),
        (.string(#"say "hi" \ bye / now"#), #""say \"hi\" \\ bye / now""#),
        (.string("é😀\u{2028}"), "\"é😀\u{2028}\""),
        (.array([]), "[]"),
        (.object(JSONObject()), "{}"),
        (["b": [1, 2.5, "x"], "a": ["z": nil, "y": false]], #"{"a":{"y":false,"z":null},"b":[1,2.5,"x"]}"#),
    ]

    @Test(arguments: encodings)
    func valueEncodesToExactCompactText(value: JSONValue, text: String) {
        #expect(Array(value.encoded().utf8) == Array(text.utf8), "got \(value.encoded())")
    }

    @Test(arguments: encodings)
    func encodedValueParsesBackToTheSameValue(value: JSONValue, text: String) throws {
        #expect(try JSONValue(parsing: value.encoded()) == value)
    }

    @Test func prettyOutputIndentsTwoSpacesWithSortedKeys() {
        let value: JSONValue = ["b": [1, ["c": nil]], "a": [:], "e": [], "d": "x"]
        let expected = """
            {
              "a": {},
              "b": [
                1,
                {
                  "c": null
                }
              ],
              "d": "x",
              "e": []
            }
            """
        #expect(value.encoded(pretty: true) == expected)
    }

    @Test func prettyOutputOfScalarsAndEmptiesHasNoNewlines() {
        #expect(JSONValue.integer(1).encoded(pretty: true) == "1")
        #expect(JSONValue.array([]).encoded(pretty: true) == "[]")
        #expect(JSONValue.object(JSONObject()).encoded(pretty: true) == "{}")
        #expect(JSONValue.array([[]]).encoded(pretty: true) == "[\n  []\n]")
    }

    @Test func prettyOutputParsesBackToTheSameValue() throws {
        let value: JSONValue = ["k": [1, -2.5, "a\nb", ["x": [true, nil]]], "é": [:]]
        #expect(try JSONValue(parsing: value.encoded(pretty: true)) == value)
    }

    @Test func writerAppendsToItsBuffer() {
        var writer = JSONWriter()
        writer.write([1, 2])
        writer.writeRaw("\n")
        writer.write(["a": "b"])
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "[1,2]\n{\"a\":\"b\"}")
    }

    @Test func writeStringEscapesRawUTF8Bytes() {
        var writer = JSONWriter()
        let bytes: [UInt8] = [0x61, 0x22, 0x0A, 0xC3, 0xA9, 0x5C]
        bytes.withUnsafeBytes { writer.writeString(utf8: $0) }
        #expect(writer.bytes == Array(#""a\"\né\\""#.utf8))
    }

    /// Every special byte at every offset of short and long strings (the short, one-append path
    /// ends at 240 bytes; the scan moves eight bytes at a time), against a byte-at-a-time reference.
    @Test(arguments: [1, 7, 8, 9, 16, 239, 240, 241, 600])
    func writeStringEscapesASpecialByteAtAnyOffset(length: Int) {
        for special: UInt8 in [0x22, 0x5C, 0x00, 0x0A, 0x1F, 0x7F, 0xC3] {
            for offset in Set([0, length / 2, length - 1]) {
                var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: length)
                bytes[offset] = special
                if special == 0xC3 { bytes.insert(0xA9, at: offset + 1) }  // é, kept as is
                var writer = JSONWriter()
                bytes.withUnsafeBytes { writer.writeString(utf8: $0) }
                var expected = "\""
                for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
                    switch scalar {
                    case "\"": expected += "\\\""
                    case "\\": expected += "\\\\"
                    case "\n": expected += "\\n"
                    case "\u{00}": expected += "\\u0000"
                    case "\u{1F}": expected += "\\u001f"
                    default: expected.unicodeScalars.append(scalar)
                    }
                }
                expected += "\""
                #expect(String(decoding: writer.bytes, as: UTF8.self) == expected, "byte \(special) at \(offset)")
            }
        }
    }

    @Test func writeMemberKeyWritesTheCommaOnlyAfterTheFirstMember() {
        var writer = JSONWriter()
        writer.writeRaw("{")
        for (i, key) in ["a", "q\"k", String(repeating: "k", count: 300)].enumerated() {
            var key = key
            key.withUTF8 { writer.writeMemberKey(utf8: UnsafeRawBufferPointer($0), first: i == 0) }
            writer.writeInteger(Int64(i))
        }
        writer.writeRaw("}")
        let long = String(repeating: "k", count: 300)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"a":0,"q\"k":1,""# + long + #"":2}"#)
    }

    @Test func writingANonFiniteDoubleStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            var writer = JSONWriter()
            writer.writeDouble(.nan)
        }
    }
}

@Suite struct JSONObjectTests {
    @Test func membersAreSortedByUTF8BytesAndLastDuplicateWins() {
        let object = JSONObject([("b", 1), ("é", 2), ("B", 3), ("b", 4), ("", 5)])
        #expect(object.keys == ["", "B", "b", "é"])
        #expect(object["b"] == 4)
        #expect(object.count == 4)
        #expect(object.map(\.value) == [5, 3, 4, 2])
    }

    @Test func subscriptSetterInsertsInOrderReplacesAndRemoves() {
        var object = JSONObject()
        object["m"] = 1
        object["é"] = 2
        object["Z"] = 3
        object["a"] = 4
        #expect(object.keys == ["Z", "a", "m", "é"])
        object["m"] = "replaced"
        #expect(object["m"] == "replaced")
        #expect(object.count == 4)
        object["a"] = nil
        object["missing"] = nil
        #expect(object.keys == ["Z", "m", "é"])
        #expect(object["a"] == nil)
        #expect(!object.isEmpty)
        #expect(JSONObject().isEmpty)
    }

    @Test func equalityAndHashIgnoreConstructionOrder() {
        let one: JSONValue = .object(JSONObject([("a", 1), ("b", [2])] as [(String, JSONValue)]))
        let two: JSONValue = .object(JSONObject([("b", [2]), ("a", 1)] as [(String, JSONValue)]))
        let different: JSONValue = .object(JSONObject([("a", 1), ("b", [3])] as [(String, JSONValue)]))
        #expect(one == two)
        #expect(one != different)
        #expect(Set([one, two, different]).count == 2)
    }

    @Test func integerAndDoubleAreDistinctValues() {
        #expect(JSONValue.integer(1) != .double(1))
        #expect(Set<JSONValue>([.integer(1), .double(1)]).count == 2)
    }

    @Test func valueAccessorsReturnNilForOtherKinds() {
        let value: JSONValue = ["name": "Ann", "tags": ["x"]]
        #expect(value["name"]?.stringValue == "Ann")
        #expect(value["missing"] == nil)
        #expect(value["tags"]?.stringValue == nil)
        #expect(value.objectValue?.keys == ["name", "tags"])
        #expect(JSONValue.string("s")["name"] == nil)
        #expect(JSONValue.array([1]).objectValue == nil)
    }

    static let kinds: [(value: JSONValue, kind: String)] = [
        (nil, "null"), (true, "a boolean"), (1, "an integer"), (1.5, "a number"),
        ("s", "a string"), ([1], "an array"), (["a": 1], "an object"),
    ]

    @Test(arguments: kinds)
    func kindDescriptionNamesTheKind(value: JSONValue, kind: String) {
        #expect(value.kindDescription == kind)
    }

    @Test func canonicallyEquivalentKeysStayDistinctMembers() throws {
        // "e" + U+0301 and U+00E9 are different JSON keys (RFC 8259 compares code units), but
        // Swift's String == treats them as equal.
        let decomposed = "e\u{301}"
        let precomposed = "\u{E9}"
        let value = try JSONValue(parsing: #"{"e\u0301":1,"\u00e9":2}"#)
        #expect(value.objectValue?.count == 2)
        #expect(Array(value.encoded().utf8) == Array("{\"\(decomposed)\":1,\"\(precomposed)\":2}".utf8))
        let only = JSONObject([(precomposed, 1)] as [(String, JSONValue)])
        #expect(only[decomposed] == nil)
    }
}

@Suite struct JSONDuplicateKeysTests {
    @Test func countsRepeatsPerKeyAndHandsOutEachNewKeyOnce() {
        var keys = JSONDuplicateKeys()
        keys.record("email")
        keys.record("id")
        keys.record("email")
        #expect(keys.counts.map(\.key) == ["email", "id"])
        #expect(keys.counts.map(\.repeats) == [2, 1])
        #expect(keys.hasNew)
        #expect(keys.takeNew() == ["email", "id"])
        #expect(!keys.hasNew)
        keys.record("id")
        #expect(!keys.hasNew)
        keys.record("name")
        #expect(keys.takeNew() == ["name"])
    }

    @Test func staysBoundedWhateverKeysTheInputMakesUp() {
        var keys = JSONDuplicateKeys()
        for i in 0..<(JSONDuplicateKeys.maxKeys + 50) { keys.record("key\(i)") }
        keys.record(String(repeating: "k", count: 10_000))
        #expect(keys.counts.count == JSONDuplicateKeys.maxKeys)
        #expect(keys.untrackedRepeats == 51)
        var bounded = JSONDuplicateKeys()
        bounded.record(String(repeating: "k", count: 10_000))
        #expect(bounded.counts[0].key == String(repeating: "k", count: JSONDuplicateKeys.maxKeyLength) + "…")
    }
}

/// `writeStringIfValidUTF8`, the one-pass check and write for short plain ASCII, against the two
/// passes it stands for: `UTF8Validation.isValid`, then `writeString(utf8:)`.
@Suite struct JSONWriterValidatingStringTests {
    static let texts: [[UInt8]] = [
        [], Array("a".utf8), Array("abcdefg".utf8), Array("abcdefgh".utf8), Array("abcdefghi".utf8),
        Array(#"say "hi""#.utf8), Array(#"back\slash and more text"#.utf8), [0x41, 0x09, 0x42], [0x7F, 0x20],
        Array("Zoë".utf8), Array("plain ascii then 佐藤".utf8), Array("😀".utf8),
        Array(repeating: 0x61, count: 240), Array(repeating: 0x61, count: 241),
        Array(repeating: 0x61, count: 239) + [0x22],
        // Invalid: overlong, surrogate, a byte no sequence starts with, truncated, a bad continuation.
        [0xC0, 0x80], [0x61, 0xED, 0xA0, 0x80], [0xFF], Array("abcdefgh".utf8) + [0xE3, 0x81], [0xE3, 0x41, 0x81],
    ]

    @Test(arguments: texts)
    func writesWhatValidatingThenWritingWrites(text: [UInt8]) {
        var fused = JSONWriter()
        fused.writeRaw("[")
        let wrote = text.withUnsafeBytes { fused.writeStringIfValidUTF8($0) }
        var twoPass = JSONWriter()
        twoPass.writeRaw("[")
        let valid = text.withUnsafeBytes { UTF8Validation.isValid($0) }
        if valid { text.withUnsafeBytes { twoPass.writeString(utf8: $0) } }
        #expect(wrote == valid)
        #expect(fused.bytes == twoPass.bytes)
    }
}
