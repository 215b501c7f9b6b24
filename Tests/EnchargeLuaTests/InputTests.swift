import Foundation
import TestSupport
import Testing

/// Inputs as users export them, read by the command line run in process: CSV dialects, list
/// responses saved as `.json`, integers beyond 64 bits and objects with a repeated key.
@Suite struct InputTests {
    /// A rule that sends each record's `email` and, as properties, `at` (its source) and `v`.
    static let echoRule = """
        function on_record(r, ctx)
          if r.skip then return encharge.skip("asked to") end
          encharge.track("Seen", { email = r.email }, { at = ctx.source, v = r.v })
        end
        """

    func dryRun(
        _ tmp: TemporaryDirectory, _ arguments: [String], rule: String = echoRule
    ) async throws -> InProcessCommandLine.Result {
        let rules = try tmp.write("rules.lua", rule)
        return await InProcessCommandLine().run(
            ["run", rules] + arguments + ["--dry-run", "--dead-letter", tmp.path + "/dead.jsonl"])
    }

    func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    // MARK: CSV

    @Test(arguments: [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|")])
    func delimiterReadsSemicolonAndTabExports(flag: String, separator: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let csv = try tmp.write(
            "people.csv",
            ["email", "v"].joined(separator: separator) + "\n"
                + ["a@x.io", "1,5"].joined(separator: separator) + "\n"
                + ["\"b@x.io\"", "\"x\(separator)y\""].joined(separator: separator) + "\n")
        let result = try await dryRun(tmp, [csv, "--delimiter", flag])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            lines(result.stdout) == [
                #"{"name":"Seen","user":{"email":"a@x.io"},"properties":{"at":"\#(csv):1","v":"1,5"}}"#,
                #"{"name":"Seen","user":{"email":"b@x.io"},"properties":{"at":"\#(csv):2","v":"x\#(separator == "\t" ? "\\t" : separator)y"}}"#,
            ])
    }

    @Test func checkTakesTheDelimiterForItsSample() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.echoRule)
        let csv = try tmp.write("people.csv", "email;v\na@x.io;2\n")
        let result = await InProcessCommandLine().run(["check", rules, "--input", csv, "--delimiter", ";"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""v":"2""#))
    }

    @Test func delimiterOtherThanOneCharacterIsAUsageError() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let csv = try tmp.write("people.csv", "email\n")
        let result = try await dryRun(tmp, [csv, "--delimiter", ";;"])
        #expect(result.status == 64 || result.status == 2)
        #expect(result.stderr.contains("--delimiter"))
    }

    @Test(arguments: [";", "\t", "|"])
    func oneColumnHeaderHoldingASeparatorWarnsAboutTheDelimiter(separator: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let csv = try tmp.write("people.csv", "email\(separator)v\na@x.io\(separator)1\n")
        let result = try await dryRun(tmp, [csv])
        let flag = separator == "\t" ? "tab" : "'\(separator)'"
        #expect(
            result.stderr.contains(
                "\(csv):1: warning: the CSV header is one column holding '\(separator == "\t" ? "\\t" : separator)'; if the file is separated by it, pass --delimiter \(flag)"
            ),
            "\(result.stderr)")
    }

    @Test func duplicateHeaderNamesAreAnErrorNamingBothColumns() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let csv = try tmp.write("people.csv", "email,v,Email ,email\na@x.io,1,x,b@x.io\n")
        let result = try await dryRun(tmp, [csv])
        #expect(result.status == 2, "an input error, as the README says")
        #expect(result.stdout.isEmpty, "no record is read with a column silently lost")
        #expect(
            result.stderr.contains(
                "\(csv):1: error: the CSV header names column 1 and column 4 both 'email'; rename one so no column is lost"
            ),
            "\(result.stderr)")
    }

    @Test func bareCarriageReturnsEndLines() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let csv = try tmp.write("mac.csv", "email,v\ra@x.io,1\r\"b@x.io\",\"two\rlines\"\rc@x.io,3")
        let result = try await dryRun(tmp, [csv])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            lines(result.stdout) == [
                #"{"name":"Seen","user":{"email":"a@x.io"},"properties":{"at":"\#(csv):1","v":"1"}}"#,
                #"{"name":"Seen","user":{"email":"b@x.io"},"properties":{"at":"\#(csv):2","v":"two\rlines"}}"#,
                #"{"name":"Seen","user":{"email":"c@x.io"},"properties":{"at":"\#(csv):3","v":"3"}}"#,
            ])
        #expect(
            result.stderr.contains("done: 3 records: 3 with events, 0 skipped, 0 failed; 3 events in "),
            "\(result.stderr)")
    }

    @Test func unclosedQuoteFailsItsRowAndTheRowsAfterItAreRead() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        var text = "v,email\n"
        for i in 1...1000 {
            text += i == 10 ? "\"Smith, J,x\(i)@x.io\n" : "\(i),x\(i)@x.io\n"
        }
        let csv = try tmp.write("people.csv", text)
        let result = try await dryRun(tmp, [csv])
        #expect(result.status == 1)
        #expect(lines(result.stdout).count == 999)
        #expect(
            result.stderr.contains("done: 1000 records: 999 with events, 0 skipped, 1 failed; 999 events in "),
            "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "\(csv):10: error: a quoted CSV field is not closed (the quote opens on file line 11)"))
        let dead = tmp.lines("dead.jsonl")
        try #require(dead.count == 1)
        let entry = try JSONSerialization.jsonObject(with: Data(dead[0].utf8)) as! [String: Any]
        #expect(entry["record"] as? String == "\"Smith, J,x10@x.io")
    }

    // MARK: JSON records path

    static let stripeList = """
        {"object": "list", "url": "/v1/customers", "has_more": false,
         "data": [
          {"email": "a@x.io", "v": 1},
          {"email": "b@x.io", "skip": true},
          {"email": "c@x.io", "v": 3}
         ]}
        """

    @Test func recordsPathStreamsTheArrayWithPerItemSources() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let json = try tmp.write("customers.json", Self.stripeList)
        let result = try await dryRun(tmp, [json, "--records-path", "/data"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            lines(result.stdout) == [
                #"{"name":"Seen","user":{"email":"a@x.io"},"properties":{"at":"\#(json):/data/0","v":1}}"#,
                #"{"name":"Seen","user":{"email":"c@x.io"},"properties":{"at":"\#(json):/data/2","v":3}}"#,
            ])
        #expect(
            result.stderr.contains("done: 3 records: 2 with events, 1 skipped, 0 failed; 2 events in "),
            "\(result.stderr)")
    }

    @Test func recordsPathFollowsEscapedKeysAndArrayIndexes() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let json = try tmp.write(
            "nested.json",
            #"""
            {"a/b": {"x": [1, "]", {"c~d": [{"email": "a@x.io"}]}]}, "zz": [{"email": "no@x.io"}]}
            """#)
        let result = try await dryRun(tmp, [json, "--records-path", "/a~1b/x/2/c~0d"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            lines(result.stdout) == [
                #"{"name":"Seen","user":{"email":"a@x.io"},"properties":{"at":"\#(json):/a~1b/x/2/c~0d/0"}}"#
            ])
    }

    @Test(arguments: [
        ("/missing", "matches nothing"),
        ("/object", "is a string, not an array"),
        ("/data/7", "matches nothing"),
        ("data", "must be empty or start with '/'"),
    ])
    func recordsPathThatMatchesNoArrayIsAnInputErrorNamingIt(pointer: String, says: String) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let json = try tmp.write("customers.json", Self.stripeList)
        let result = try await dryRun(tmp, [json, "--records-path", pointer])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.contains("error:") && result.stderr.contains("'\(pointer)'") && result.stderr.contains(says),
            "\(result.stderr)")
        #expect(
            !result.stderr.contains("error: error:") && !result.stderr.contains(": error: \(json): "),
            "one `error:` per line, in compiler form: \(result.stderr)")
    }

    @Test func recordsPathNeedsJSONInput() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let lines = try tmp.write("in.jsonl", "{}\n")
        let result = try await dryRun(tmp, [lines, "--records-path", "/data"])
        #expect(result.status == 64 || result.status == 2)
        #expect(result.stderr.contains("--records-path"))
    }

    @Test func listSavedAsOneRecordThatIsSkippedSuggestsTheRecordsPath() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let json = try tmp.write("customers.json", Self.stripeList)
        let rule = "function on_record(r) if r.object == 'list' then return encharge.skip('a list') end end"
        let result = try await dryRun(tmp, [json], rule: rule)
        #expect(
            result.stderr.contains("done: 1 record: 0 with events, 1 skipped, 0 failed; 0 events in "),
            "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "warning: \(json) is one JSON object whose member /data is an array of 3 objects, read as one record; to read each object as a record, pass --records-path /data"
            ),
            "\(result.stderr)")
    }

    @Test func singleObjectThatMapsFineGetsNoSuggestion() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let json = try tmp.write("customers.json", Self.stripeList)
        let rule = "function on_record(r) for _, c in ipairs(r.data) do encharge.identify{ email = c.email } end end"
        let result = try await dryRun(tmp, [json], rule: rule)
        #expect(result.status == 0)
        #expect(!result.stderr.contains("--records-path"))
    }

    // MARK: Numbers and keys

    @Test func integersBeyond64BitsPassThroughWithTheirDigits() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rule = """
            function on_record(r, ctx)
              local d = json.decode('{"n": -99999999999999999999}')
              encharge.track("Seen", { email = r.email, userId = r.id },
                { v = r.v, s = tostring(r.v), c = "#" .. r.v, d = d.n, e = json.encode(d), same = r.v == r.w })
            end
            """
        let data = try tmp.write(
            "in.jsonl",
            #"{"email":"a@x.io","id":12345678901234567890,"v":18446744073709551616,"w":18446744073709551616}"# + "\n")
        let result = try await dryRun(tmp, [data], rule: rule)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout
                == ##"{"name":"Seen","user":{"email":"a@x.io","userId":"12345678901234567890"},"properties":{"c":"#18446744073709551616","d":-99999999999999999999,"e":"{\"n\":-99999999999999999999}","s":"18446744073709551616","same":true,"v":18446744073709551616}}"##
                + "\n")
    }

    @Test func arithmeticOnAnIntegerBeyond64BitsFailsItsRecordWithAMessage() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rule = "function on_record(r) encharge.track('Seen', { email = r.email }, { n = r.v + 1 }) end"
        let data = try tmp.write("in.jsonl", #"{"email":"a@x.io","v":12345678901234567890}"# + "\n")
        let result = try await dryRun(tmp, [data], rule: rule)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("integer 12345678901234567890 does not fit in 64 bits"), "\(result.stderr)")
        #expect(!result.stderr.contains("e+19"))
    }

    @Test func duplicateKeysWarnOncePerKeyWithACount() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rule = """
            function on_record(r)
              local d = json.decode('{"plan":"a","plan":"b"}')
              encharge.track("Seen", { email = r.email }, { plan = d.plan, v = r.v })
            end
            """
        let data = try tmp.write(
            "in.jsonl",
            """
            {"email":"a@x.io","email":"b@x.io","v":1,"v":null}
            {"email":"c@x.io","email":"d@x.io"}
            {"email":"e@x.io"}

            """)
        let result = try await dryRun(tmp, [data], rule: rule)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            lines(result.stdout) == [
                #"{"name":"Seen","user":{"email":"b@x.io"},"properties":{"plan":"b"}}"#,
                #"{"name":"Seen","user":{"email":"d@x.io"},"properties":{"plan":"b"}}"#,
                #"{"name":"Seen","user":{"email":"e@x.io"},"properties":{"plan":"b"}}"#,
            ])
        let warnings = lines(result.stderr).filter { $0.contains("warning:") }
        #expect(
            warnings.contains(
                "\(data):1: warning: key \"email\" appears more than once in one JSON object; the last value is used"),
            "\(result.stderr)")
        #expect(
            warnings.contains(
                "\(data):1: warning: key \"plan\" appears more than once in one JSON object; the last value is used"))
        #expect(
            warnings.contains(
                "warning: key \"email\" was repeated 2 times in JSON objects; the last value was used each time"))
        #expect(
            warnings.contains(
                "warning: key \"plan\" was repeated 3 times in JSON objects; the last value was used each time"))
        #expect(warnings.filter { $0.contains("\"email\"") }.count == 2)
    }
}
