import Foundation
import TestSupport
import Testing

/// `encharge-lua diff OLD NEW --input SAMPLE`, run in process as the binary runs it.
@Suite struct DiffCommandTests {
    /// A rule that identifies each record and tracks "Signed up" with its plan; `extra` goes at the
    /// end of `on_record`, `properties` replaces the tracked properties.
    static func rule(properties: String = "{ plan = r.plan }", extra: String = "") -> String {
        """
        function on_record(r, ctx)
          if r.skip then return encharge.skip("no email") end
          encharge.identify{ email = r.email, userId = r.id }
          encharge.track("Signed up", { email = r.email }, \(properties))
          \(extra)
        end
        """
    }

    /// Three records: a pro, a basic, and one the rule skips.
    static let records = """
        {"email":"a@x.com","id":"1","plan":"pro"}
        {"email":"b@x.com","id":"2","plan":"basic"}
        {"email":"c@x.com","id":"3","skip":true}

        """

    /// Runs `diff old.lua new.lua --input NAME FLAGS` on files written to a folder at a short path
    /// (so Lua shows rule paths whole), or at a long one with `shortPaths: false`.
    private func diff(
        old: String, new: String, records: String = records, name: String = "in.jsonl", shortPaths: Bool = true,
        _ flags: [String] = []
    ) async throws -> (InProcessCommandLine.Result, input: String) {
        let folder = shortPaths ? try ShortTemporaryDirectory().path : try TemporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try old.write(toFile: folder + "/old.lua", atomically: true, encoding: .utf8)
        try new.write(toFile: folder + "/new.lua", atomically: true, encoding: .utf8)
        try records.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        let result = await InProcessCommandLine().run(
            ["diff", folder + "/old.lua", folder + "/new.lua", "--input", folder + "/" + name] + flags)
        return (result, folder + "/" + name)
    }

    @Test func rulesDifferingInOneFieldShowThatFieldByPath() async throws {
        let (result, input) = try await diff(
            old: Self.rule(), new: Self.rule(properties: #"{ plan = r.plan == "pro" and "free" or r.plan }"#))
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "\(input):1", #"  events[1].properties.plan: was "pro", now "free""#,
                "3 inputs: 2 unchanged, 1 changed, 0 newly failing",
            ])
        #expect(result.stderr == "")
    }

    @Test func addedAndRemovedEventsAreNamed() async throws {
        let (result, input) = try await diff(
            old: Self.rule(extra: #"if r.plan == "basic" then encharge.track("Downgraded", { email = r.email }) end"#),
            new: Self.rule(extra: #"if r.plan == "pro" then encharge.track("Paid invoice", { email = r.email }) end"#))
        #expect(
            result.stdoutLines == [
                "\(input):1", #"  events[2]: added event "Paid invoice""#,
                "\(input):2", #"  events[2]: removed event "Downgraded""#,
                "3 inputs: 1 unchanged, 2 changed, 0 newly failing",
            ])
    }

    @Test func outcomesThatChangeKindSayWhatTheyWereAndAre() async throws {
        let records = """
            {"email":"a@x.com","id":"1","plan":"pro"}
            {"email":"b@x.com","id":"2","plan":"basic","bad":true}
            {"email":"c@x.com","id":"3","skip":true}
            {"email":"d@x.com","id":"4","plan":"basic","legacy":true}

            """
        let (result, input) = try await diff(
            old: Self.rule(extra: #"if r.legacy then error("legacy plans are not mapped") end"#),
            new: """
                function on_record(r, ctx)
                  if r.bad then error("bad record") end
                  if r.plan == "pro" then return encharge.skip("pro plans sync elsewhere") end
                  encharge.identify{ email = r.email, userId = r.id }
                end
                """, records: records)
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "\(input):1",
                "  now skipped: pro plans sync elsewhere",
                #"  events[0]: removed identify {"email":"a@x.com","userId":"1"}"#,
                #"  events[1]: removed event "Signed up""#,
                "\(input):2",
                "  now fails: \(input.dropLast("in.jsonl".count))new.lua:2: bad record",
                "\(input):3",
                "  was skipped: no email",
                "  now maps 1 event",
                #"  events[0]: added identify {"email":"c@x.com","userId":"3"}"#,
                "\(input):4",
                "  was failing: \(input.dropLast("in.jsonl".count))old.lua:5: legacy plans are not mapped",
                "  now maps 1 event",
                #"  events[0]: added identify {"email":"d@x.com","userId":"4"}"#,
                "4 inputs: 0 unchanged, 2 changed, 1 newly failing, 1 newly passing",
            ])
        // The failing record's message is the report's to show; the job does not repeat it on stderr.
        #expect(result.stderr == "")
    }

    /// Lua cuts a long rules path to `...tail` in its messages; moved code is unchanged either way.
    @Test(arguments: [true, false])
    func aFailureThatOnlyMovedToAnotherLineIsUnchanged(shortPaths: Bool) async throws {
        let old = #"function on_record(r) error("no mapping for " .. r.id) end"#
        let new = "-- moved down\n\n" + old
        let (result, _) = try await diff(old: old, new: new, shortPaths: shortPaths)
        #expect(result.stdoutLines == ["3 inputs: 3 unchanged, 0 changed, 0 newly failing"])
        let (changed, input) = try await diff(
            old: old, new: #"function on_record(r) error("no plan for " .. r.id) end"#)
        let directory = String(input.dropLast("in.jsonl".count))
        #expect(
            changed.stdoutLines.prefix(3) == [
                "\(input):1", "  was failing: \(directory)old.lua:1: no mapping for 1",
                "  now fails: \(directory)new.lua:1: no plan for 1",
            ])
        #expect(changed.stdoutLines.last == "3 inputs: 0 unchanged, 3 changed, 0 newly failing")
    }

    @Test func messagesFromTheRuleCannotStartLinesOrDriveTheTerminal() async throws {
        let (result, input) = try await diff(
            old: Self.rule(), new: #"function on_record(r) error("line\n\27[2Jforged", 0) end"#,
            records: #"{"email":"a@x.com"}"# + "\n")
        #expect(
            result.stdoutLines == [
                "\(input):1", #"  now fails: line\n\u001b[2Jforged"#,
                "1 input: 0 unchanged, 0 changed, 1 newly failing",
            ])
    }

    @Test func numbersCompareByValue() async throws {
        let (result, _) = try await diff(
            old: Self.rule(properties: "{ seats = 2 }"), new: Self.rule(properties: "{ seats = 4 / 2 }"))
        #expect(result.stdoutLines == ["3 inputs: 3 unchanged, 0 changed, 0 newly failing"])
    }

    @Test func identicalRulesLeaveEveryInputUnchanged() async throws {
        let (result, _) = try await diff(old: Self.rule(), new: Self.rule(), ["--fail-on-change"])
        #expect(result.status == 0)
        #expect(result.stdout == "3 inputs: 3 unchanged, 0 changed, 0 newly failing\n")
    }

    @Test func failOnChangeExitsOneOnlyWhenSomethingChanged() async throws {
        let changed = Self.rule(properties: "{ plan = r.plan, trial = true }")
        let (failing, failingInput) = try await diff(old: Self.rule(), new: changed, ["--fail-on-change"])
        #expect(failing.status == 1)
        #expect(failing.stdoutLines.last == "3 inputs: 1 unchanged, 2 changed, 0 newly failing")
        let (reported, reportedInput) = try await diff(old: Self.rule(), new: changed)
        #expect(reported.status == 0)
        #expect(
            reported.stdout.replacingOccurrences(of: reportedInput, with: "in.jsonl")
                == failing.stdout.replacingOccurrences(of: failingInput, with: "in.jsonl"))
    }

    @Test func jsonReportsOneObjectPerChangedInputThenTheCounts() async throws {
        let (result, input) = try await diff(
            old: Self.rule(),
            new: """
                function on_record(r, ctx)
                  if r.skip then error("no email") end
                  encharge.identify{ email = r.email, userId = r.id }
                  encharge.track("Signed up", { email = r.email }, { plan = r.plan == "pro" and "free" or r.plan })
                  if r.plan == "basic" then encharge.track("Paid invoice", { email = r.email }, { amount = 12 }) end
                end
                """, ["--json", "--fail-on-change"])
        let directory = String(input.dropLast("in.jsonl".count))
        #expect(result.status == 1)
        #expect(
            result.stdoutLines == [
                #"{"differences":[{"new":"free","old":"pro","path":"events[1].properties.plan"}],"kind":"changed","#
                    + #""new":{"events":2,"outcome":"mapped"},"old":{"events":2,"outcome":"mapped"},"source":"\#(input):1"}"#,
                #"{"differences":[{"new":{"name":"Paid invoice","properties":{"amount":12},"user":{"email":"b@x.com"}},"#
                    + #""path":"events[2]"}],"kind":"changed","new":{"events":3,"outcome":"mapped"},"#
                    + #""old":{"events":2,"outcome":"mapped"},"source":"\#(input):2"}"#,
                #"{"differences":[],"kind":"newlyFailing","new":{"error":"\#(directory)new.lua:2: no email","#
                    + #""outcome":"failed"},"old":{"outcome":"skipped","reason":"no email"},"source":"\#(input):3"}"#,
                #"{"changed":2,"inputs":3,"newlyFailing":1,"newlyPassing":0,"unchanged":0}"#,
            ])
    }

    @Test func countsUseThousandsSeparators() async throws {
        var records = ""
        for i in 0..<1204 {
            let plan = i < 20 ? "pro" : i < 24 ? "broken" : "basic"
            records += #"{"email":"u\#(i)@x.com","id":"\#(i)","plan":"\#(plan)"}"# + "\n"
        }
        let (result, _) = try await diff(
            old: Self.rule(),
            new: Self.rule(
                properties: #"{ plan = r.plan == "pro" and "free" or r.plan }"#,
                extra: #"if r.plan == "broken" then error("broken plan") end"#), records: records)
        #expect(result.stdoutLines.last == "1,204 inputs: 1,180 unchanged, 20 changed, 4 newly failing")
    }

    @Test func csvInputsAreReadAsRunReadsThem() async throws {
        let (result, input) = try await diff(
            old: Self.rule(), new: Self.rule(properties: "{ plan = r.plan, seats = tonumber(r.seats) }"),
            records: "email,id,plan,seats\na@x.com,1,pro,3\n", name: "in.csv")
        #expect(
            result.stdoutLines == [
                "\(input):1", "  events[1].properties.seats: added 3",
                "1 input: 0 unchanged, 1 changed, 0 newly failing",
            ])
    }

    @Test func aRuleThatDoesNotLoadOrAnUnreadableInputExitsTwoBeforeAnyInputIsRead() async throws {
        let (broken, _) = try await diff(old: Self.rule(), new: "function on_record(r) encharge.identify{ end")
        #expect(broken.status == 2)
        #expect(broken.stdout == "")
        #expect(broken.stderrLines.count == 1)
        #expect(broken.stderr.hasPrefix("error: ") && broken.stderr.contains("new.lua:1:"))

        let (noEntry, input) = try await diff(old: Self.rule(), new: "function on_webhook(req) end")
        #expect(noEntry.status == 2)
        #expect(noEntry.stdout == "")
        #expect(
            noEntry.stderrLines == [
                "error: \(input.dropLast("in.jsonl".count))new.lua defines no on_record(record, ctx) function, so it cannot map the records of \(input); for a webhook rule, pass webhook fixtures to --input (a fixtures folder, or .json files holding a \"webhook\" member)"
            ])

        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule())
        let missing = tmp.file("missing.jsonl")
        let unreadable = await InProcessCommandLine().run(["diff", rules, rules, "--input", missing])
        #expect(unreadable.status == 2)
        #expect(unreadable.stdout == "")
        #expect(unreadable.stderrLines == ["error: cannot read \(missing): No such file or directory; check the path"])

        let unnamed = await InProcessCommandLine().run(["diff", rules, rules, "--input", tmp.file("sample.txt")])
        #expect(unnamed.status == 2)
        #expect(
            unnamed.stderrLines == [
                "error: cannot tell the format of '\(tmp.file("sample.txt"))' from its name; name it .jsonl, .json or .csv, or pass --format"
            ])
    }

    @Test func aSampleIsRequired() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule())
        let result = await InProcessCommandLine().run(["diff", rules, rules])
        #expect(result.status == 2)
        #expect(
            result.stderrLines.first
                == "error: diff needs a sample to run both rules on; pass --input with a records file, -, or fixtures"
        )
    }

    @Test func anInputThatBreaksPartWayIsReportedTheOthersRunAndItExitsTwo() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.rule())
        let csv = tmp.file("bad.csv")
        try Data([0x65, 0x6D, 0xFF, 0x0A, 0x61, 0x0A]).write(to: URL(fileURLWithPath: csv))  // header "em\xFF"
        let good = try tmp.write("good.jsonl", #"{"email":"a@x.com","id":"1"}"# + "\n")
        let result = await InProcessCommandLine().run(["diff", rules, rules, "--input", csv, good])
        #expect(result.status == 2)
        #expect(result.stdoutLines == ["1 input: 1 unchanged, 0 changed, 0 newly failing"])
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("\(csv):1: error: "))
    }

    /// A Stripe-like route: the old rule tracks the invoice in cents; the new one identifies the
    /// payer first, tracks the amount in units and answers 200 to refunds.
    static let oldWebhookRule = """
        routes = {
          ["POST /stripe"] = function(req)
            local e = req.json
            encharge.track("Paid invoice", { email = e.email }, { amount = e.amount })
          end,
        }
        function on_record(r) encharge.identify{ email = r.email } end
        """
    static let newWebhookRule = """
        routes = {
          ["POST /stripe"] = function(req)
            local e = req.json
            if e.refund then return 200 end
            encharge.identify{ email = e.email }
            encharge.track("Paid invoice", { email = e.email }, { amount = e.amount / 100 })
          end,
        }
        function on_record(r) encharge.identify{ email = r.email, userId = r.id } end
        """

    /// Writes the two webhook rules and `fixtures` (name → text) into a short folder; runs
    /// `diff old.lua new.lua --input FOLDER/fixtures/ FLAGS` (a folder given to `--input` is one of fixtures).
    private func diffFixtures(
        _ fixtures: [String: String], _ flags: [String] = []
    ) async throws -> (InProcessCommandLine.Result, folder: String) {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let old = try tmp.write("old.lua", Self.oldWebhookRule)
        let new = try tmp.write("new.lua", Self.newWebhookRule)
        try FileManager.default.createDirectory(atPath: tmp.file("fixtures"), withIntermediateDirectories: false)
        for (name, text) in fixtures { _ = try tmp.write("fixtures/" + name, text) }
        let result = await InProcessCommandLine().run(["diff", old, new, "--input", tmp.file("fixtures/")] + flags)
        return (result, tmp.path + "/fixtures")
    }

    static let fixtures = [
        "paid.json":
            #"{"webhook": {"method": "POST", "path": "/stripe", "json": {"email": "a@x.com", "amount": 1200}}}"#,
        "refund.json":
            #"{"webhook": {"method": "POST", "path": "/stripe", "json": {"email": "a@x.com", "amount": 5, "refund": true}}}"#,
        "signup.json": #"{"record": {"email": "b@x.com", "id": "7"}, "events": []}"#,
        "same.json": #"{"record": {"email": "c@x.com"}}"#,
    ]

    @Test func webhookFixturesShowTheirEventsAndTheAnswerServeWouldGive() async throws {
        let (result, folder) = try await diffFixtures(Self.fixtures)
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "\(folder)/paid.json",
                #"  events[0]: added identify {"email":"a@x.com"}"#,
                "  events[1].properties.amount: was 1200, now 12.0",
                "  response.accepted: was 1, now 2",
                "\(folder)/refund.json",
                #"  events[0]: removed event "Paid invoice""#,
                #"  response: removed {"accepted":1}"#,
                "  status: was 202, now 200",
                "\(folder)/signup.json",
                #"  events[0].user.userId: added "7""#,
                "4 inputs: 1 unchanged, 3 changed, 0 newly failing",
            ])
        #expect(result.stderr == "")
    }

    @Test func jsonGivesAWebhookFixturesStatusWithItsOutcome() async throws {
        let (result, folder) = try await diffFixtures(["refund.json": Self.fixtures["refund.json"]!], ["--json"])
        #expect(
            result.stdoutLines == [
                #"{"differences":[{"old":{"name":"Paid invoice","properties":{"amount":5},"user":{"email":"a@x.com"}},"#
                    + #""path":"events[0]"},{"old":{"accepted":1},"path":"response"},{"new":200,"old":202,"path":"status"}],"#
                    + #""kind":"changed","new":{"events":0,"outcome":"mapped","status":200},"#
                    + #""old":{"events":1,"outcome":"mapped","status":202},"source":"\#(folder)/refund.json"}"#,
                #"{"changed":1,"inputs":1,"newlyFailing":0,"newlyPassing":0,"unchanged":0}"#,
            ])
    }

    @Test func recordsAndFixturesRunInOneDiff() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let old = try tmp.write("old.lua", Self.oldWebhookRule)
        let new = try tmp.write("new.lua", Self.newWebhookRule)
        let records = try tmp.write("in.jsonl", #"{"email":"a@x.com","id":"1"}"# + "\n")
        let fixture = try tmp.write("same.json", Self.fixtures["same.json"]!)
        let result = await InProcessCommandLine().run(
            ["diff", old, new, "--input", records, "--fixtures", fixture, "--fail-on-change"])
        #expect(result.status == 1)
        #expect(
            result.stdoutLines == [
                "\(records):1", #"  events[0].user.userId: added "1""#,
                "2 inputs: 1 unchanged, 1 changed, 0 newly failing",
            ])
    }

    @Test func aMalformedFixtureStopsTheDiffBeforeAnythingRuns() async throws {
        var fixtures = Self.fixtures
        fixtures["broken.json"] = #"{"record": {"email": "d@x.com"}, "evnets": []}"#
        let (result, folder) = try await diffFixtures(fixtures)
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("error: \(folder)/broken.json: $.evnets "))
    }

    @Test func fixtureFilesGivenToInputAreReadAsFixturesInTheOrderGiven() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let old = try tmp.write("old.lua", Self.oldWebhookRule)
        let new = try tmp.write("new.lua", Self.newWebhookRule)
        let lines = try tmp.write("in.jsonl", #"{"email":"a@x.com","id":"1"}"# + "\n")
        let paid = try tmp.write("paid.json", Self.fixtures["paid.json"]!)
        // A .json records array is not a fixture: it stays records.
        let array = try tmp.write("array.json", #"[{"email":"b@x.com","id":"2"}]"#)
        let result = await InProcessCommandLine().run(["diff", old, new, "--input", lines, paid, "--input", array])
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "\(lines):1", #"  events[0].user.userId: added "1""#,
                paid,
                #"  events[0]: added identify {"email":"a@x.com"}"#,
                "  events[1].properties.amount: was 1200, now 12.0",
                "  response.accepted: was 1, now 2",
                "\(array):1", #"  events[0].user.userId: added "2""#,
                "3 inputs: 0 unchanged, 3 changed, 0 newly failing",
            ])
        #expect(result.stderr == "")

        // Nor is a .json object without a record or webhook member, such as a list response.
        let document = try tmp.write("document.json", #"{"data": [{"email":"c@x.com","id":"3"}]}"#)
        let listed = await InProcessCommandLine().run(
            ["diff", old, new, "--input", document, "--records-path", "/data"])
        #expect(listed.status == 0)
        #expect(
            listed.stdoutLines == [
                "\(document):/data/0", #"  events[0].user.userId: added "3""#,
                "1 input: 0 unchanged, 1 changed, 0 newly failing",
            ])
        #expect(listed.stderr == "")
    }

    @Test func aMalformedFixtureGivenToInputNamesItsFileAndJSONPath() async throws {
        let tmp = try ShortTemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.newWebhookRule)
        let broken = try tmp.write("broken.json", #"{"webhook": {"path": "/stripe", "jsn": {}}}"#)
        let result = await InProcessCommandLine().run(["diff", rules, rules, "--input", broken])
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(
            result.stderrLines == [
                #"error: \#(broken): $.webhook.jsn is not a member of a webhook (did you mean "json"?)"#
            ])
    }

    @Test func theRulesInfoLogLinesAreNotPrintedUnlessLogLevelAsksForThem() async throws {
        let logging = Self.rule(extra: #"log.info("mapped " .. r.id); log.warn("check " .. r.id)"#)
        let (quiet, _) = try await diff(old: logging, new: logging, records: #"{"email":"a@x.com","id":"1"}"# + "\n")
        #expect(quiet.status == 0)
        #expect(quiet.stdoutLines == ["1 input: 1 unchanged, 0 changed, 0 newly failing"])
        #expect(quiet.stderrLines.count == 2)
        #expect(quiet.stderrLines.allSatisfy { $0.contains("check 1") })

        let (chatty, _) = try await diff(
            old: logging, new: logging, records: #"{"email":"a@x.com","id":"1"}"# + "\n", ["--log-level", "info"])
        #expect(chatty.stderrLines.count == 4)
        #expect(chatty.stderrLines.filter { $0.contains("mapped 1") }.count == 2)
    }
}
