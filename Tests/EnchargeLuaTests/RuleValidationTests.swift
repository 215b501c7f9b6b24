import Foundation
import TestSupport
import Testing

/// Issue 7 on the command line, run in process: what the Ingest API accepts is sent (with one
/// counted warning per kind at the end of the run), and `check` finds what would fail before a run.
/// Files are passed by absolute path (the binary's tests ran in the temporary directory), so the
/// messages name them by that path.
@Suite struct RuleValidationTests {
    @Test func oddValuesAreSentAndWarnedOncePerRunWithACount() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r, ctx)
              local tags = {}
              for _, t in ipairs(r.tags or {}) do tags[#tags + 1] = t end
              encharge.identify{ email = r.email, userId = r.id, tags = tags, ip = r.ip }
              return { type = "identify" }
            end
            """)
        let input = try tmp.write(
            "in.jsonl",
            """
            {"email":"","id":1.0,"tags":["partner, reseller","vip"],"ip":"203.0.113.7, 10.0.0.1"}
            {"email":" ann@x.io ","tags":["a,b"],"ip":""}
            {"id":3}

            """)
        // The dead-letter path the binary's test found in its working directory, given explicitly.
        let result = await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run", "--dead-letter", tmp.file("dead-letter.jsonl")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == """
                {"name":"identify","user":{"tags":"partner, reseller, vip","userId":"1"}}
                {"name":"identify","user":{"email":"ann@x.io","tags":"a,b"}}
                {"name":"identify","user":{"userId":"3"}}

                """)
        let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(
            warnings == [
                "warning: 1 user.ip value was not an IP address and left out of the event (first '203.0.113.7, 10.0.0.1' at \(rules):4, record \(input):1); give one address, for example encharge.client_ip(req)",
                "warning: 2 tags contained a comma; Encharge splits tags at commas (first: \(rules):4, record \(input):1)",
                "warning: on_record's return value is ignored; emit events with encharge.event(t) (on_record at \(rules):1 returned a value for 3 records, first \(input):1)",
            ])
        #expect(
            !FileManager.default.fileExists(atPath: tmp.path + "/dead-letter.jsonl")
                || tmp.read("dead-letter.jsonl").isEmpty)
    }

    @Test func checkFindsMisspeltAndRemovedNamesWithoutASample() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r)
              encharge.identfy{ email = r.email }
              local f = io.open("x")
            end
            """)
        let result = await InProcessCommandLine().run(["check", rules])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "\(rules):2: error: encharge.identfy does not exist; did you mean encharge.identify?\n"))
        #expect(result.stderr.contains("\(rules):3: error: io.open is not available in rules (sandbox)\n"))
        #expect(!result.stderr.contains("ok ("))

        // The same typo at run time fails the record at its line with the same words.
        let input = try tmp.write("in.jsonl", "{\"email\":\"a@x.io\"}\n")
        let run = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--dead-letter", "/dev/null"])
        #expect(run.status == 1)
        #expect(
            run.stderr.contains(
                "\(rules):2: error: encharge.identfy does not exist; did you mean encharge.identify? (record \(input):1)"
            ))
    }

    @Test func checkFailsWithoutOkWhenTheSampleFails() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", "function on_record(r)\n  encharge.identify{ email = r.email }\nend\n")
        let sample = try tmp.write("sample.jsonl", "{\"email\":\"a@x.io\"}\n{\"email\":\"nope\"}\n")
        let result = await InProcessCommandLine().run(["check", rules, "--input", sample])
        #expect(result.status == 1)
        #expect(result.stderr.contains("sample: 2 records: 1 with events, 0 skipped, 1 failed; 1 event\n"))
        #expect(result.stderr.contains("\(rules): error: 1 sample record failed; fix these before running the rule"))
        #expect(!result.stderr.contains("ok ("))
    }

    @Test func iso8601ReadsExportDatesInTheirZone() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write(
            "rules.lua",
            """
            function on_record(r)
              encharge.track("Ordered", { userId = r.id }, {
                at = encharge.iso8601(r.at, { format = "%d.%m.%Y %H:%M", tz = encharge.settings.tz }) })
            end
            """)
        let input = try tmp.write("in.jsonl", "{\"id\":\"1\",\"at\":\"01.07.2020 12:00\"}\n")
        let result = await InProcessCommandLine().run(["run", rules, input, "--dry-run", "--set", "tz=Europe/Berlin"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == #"{"name":"Ordered","user":{"userId":"1"},"properties":{"at":"2020-07-01T10:00:00Z"}}"#
                + "\n")
        let missing = await InProcessCommandLine().run(
            ["run", rules, input, "--dry-run", "--set", "tz=Mars/Olympus", "--dead-letter", "/dev/null"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(rules):3: error: iso8601: unknown time zone 'Mars/Olympus'"))
    }
}
