import Foundation
import TestSupport
import Testing

/// `encharge-lua test` end to end in process: fixtures found beside the rule, each kind of failure
/// with its exact output, malformed fixtures and rules, `--update`, signed webhooks for every
/// scheme with `webhook.verify` and with `--verify`, and the budgets of `run`.
@Suite struct TestCommandTests {
    /// A rule with both entry points: records, and a route per signature scheme.
    static let rule = """
        function on_record(r, ctx)
          if not r.email then return encharge.skip("no email") end
          if r.fail then error("cannot map " .. r.email) end
          if r.spin then while true do end end
          encharge.identify{ email = r.email, plan = r.plan or encharge.settings.default_plan }
          if r.paid then encharge.track("Paid invoice", { email = r.email }, { amount = r.paid }) end
        end

        local function paid(req, scheme, options)
          webhook.verify(scheme, req, encharge.settings[scheme .. "_secret"], options)
          encharge.track("Paid invoice", { email = req.json.email }, { amount = req.json.amount })
        end

        routes = {
          ["POST /stripe"] = function(req) paid(req, "stripe") end,
          ["POST /github"] = function(req) paid(req, "github") end,
          ["POST /shopify"] = function(req) paid(req, "shopify") end,
          ["POST /standard"] = function(req) paid(req, "standard") end,
          ["POST /hmac"] = function(req) paid(req, "hmac", { header = "x-acme-signature" }) end,
          ["POST /form"] = function(req)
            if req.form.email == "" then return encharge.skip("blank form") end
            encharge.identify{ email = req.form.email }
            return { status = 200, body = { thanks = req.form.email } }
          end,
        }
        """

    /// The secrets the rule checks against, one per scheme, as `--set` pairs.
    static let secrets: [String: String] = [
        "stripe": "whsec_rule-stripe", "github": "gh-rule-secret", "shopify": "shpss_rule",
        "standard": "whsec_" + Data("standard-rule-key".utf8).base64EncodedString(), "hmac": "acme-rule",
    ]

    static var settingFlags: [String] {
        secrets.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)_secret=\($0.value)"] }
    }

    /// A folder with `rules.lua` and `fixtures/` holding `fixtures`.
    static func folder(_ fixtures: [String: String], rule: String = rule) throws -> ShortTemporaryDirectory {
        let folder = try ShortTemporaryDirectory()
        _ = try folder.write("rules.lua", rule)
        try FileManager.default.createDirectory(atPath: folder.file("fixtures"), withIntermediateDirectories: true)
        for (name, text) in fixtures { _ = try folder.write("fixtures/" + name, text) }
        return folder
    }

    static func test(_ folder: ShortTemporaryDirectory, _ arguments: [String] = []) async
        -> InProcessCommandLine.Result
    {
        await InProcessCommandLine().run(["test", folder.file("rules.lua")] + arguments + settingFlags)
    }

    /// A fixture of a webhook on `scheme`'s route, signed with `secret`, expecting the events.
    static func signedFixture(_ scheme: String, secret: String) -> String {
        """
        {"webhook": {"path": "/\(scheme)", "json": {"email": "ada@example.com", "amount": 42}},
         "sign": {"scheme": "\(scheme)", "secret": "\(secret)"\(scheme == "hmac" ? #", "header": "X-Acme-Signature""# : "")},
         "status": 202, "response": {"accepted": 1},
         "events": [{"name": "Paid invoice", "user": {"email": "ada@example.com"}, "properties": {"amount": 42}}]}
        """
    }

    @Test func aPassingFixtureSetPrintsOkForEachInNameOrderAndTheCounts() async throws {
        let folder = try Self.folder([
            "b-skip.json": #"{"record": {"plan": "pro"}, "skip": "no email"}"#,
            "a-signup.json": #"""
            {"record": {"email": "ada@example.com"}, "settings": {"default_plan": "starter"},
             "events": [{"name": "identify", "user": {"email": "ada@example.com", "plan": "starter"}}]}
            """#,
            "c-error.json": #"{"record": {"email": "x@example.com", "fail": true}, "error": "cannot map x@"}"#,
            "d-form.json": #"""
            {"webhook": {"path": "/form", "form": {"email": "ada@example.com"}}, "status": 200,
             "response": {"thanks": "ada@example.com"},
             "events": [{"name": "identify", "user": {"email": "ada@example.com"}}]}
            """#,
            "e-form-skip.json":
                #"{"webhook": {"path": "/form", "form": {"email": ""}}, "status": 202, "skip": "blank"}"#,
            "notes.txt": "not a fixture",
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "ok   \(folder.path)/fixtures/a-signup.json", "ok   \(folder.path)/fixtures/b-skip.json",
                "ok   \(folder.path)/fixtures/c-error.json", "ok   \(folder.path)/fixtures/d-form.json",
                "ok   \(folder.path)/fixtures/e-form-skip.json", "5 passed, 0 failed",
            ])
        #expect(result.stderr.isEmpty)

        // Each file runs once, where it is first named: here alone, then the folder's others.
        let once = await Self.test(
            folder,
            [
                folder.file("fixtures/b-skip.json"), folder.file("fixtures"),
                folder.file("fixtures/../fixtures/b-skip.json"),
            ])
        #expect(
            once.stdoutLines == [
                "ok   \(folder.path)/fixtures/b-skip.json", "ok   \(folder.path)/fixtures/a-signup.json",
                "ok   \(folder.path)/fixtures/c-error.json", "ok   \(folder.path)/fixtures/d-form.json",
                "ok   \(folder.path)/fixtures/e-form-skip.json", "5 passed, 0 failed",
            ])
    }

    @Test func aFixtureNamedTwiceIsUpdatedOnce() async throws {
        let folder = try Self.folder(["new.json": #"{"record": {"email": "ada@example.com"}}"#])
        defer { folder.cleanup() }
        let file = folder.file("fixtures/new.json")
        let result = await Self.test(folder, [file, file, "--update"])
        #expect(result.status == 0)
        #expect(result.stdoutLines == ["updated \(file)", "1 updated, 0 unchanged"])
        #expect(folder.read("fixtures/new.json").components(separatedBy: "\"events\"").count == 2)
    }

    @Test func outcomesOfTheWrongKindAndStatusesFailWithExpectedAndGot() async throws {
        let folder = try Self.folder([
            "events-got-skip.json": #"{"record": {}, "events": [{"name": "identify", "user": {"email": "a@x.io"}}]}"#,
            "skip-got-events.json": #"{"record": {"email": "a@x.io"}, "skip": "no email"}"#,
            "skip-other-reason.json": #"{"record": {}, "skip": "test account"}"#,
            "error-got-error.json": #"{"record": {"email": "a@x.io", "fail": true}, "error": "timeout"}"#,
            "error-got-nothing.json":
                #"{"webhook": {"path": "/form", "form": {"email": ""}}, "status": 202, "error": "x"}"#,
            "status.json": #"""
            {"webhook": {"path": "/form", "form": {"email": "a@x.io"}}, "status": 202,
             "response": {"thanks": "b@x.io"}, "events": [{"name": "identify", "user": {"email": "a@x.io"}}]}
            """#,
            "no-route.json": #"{"webhook": {"path": "/nowhere", "body": ""}, "status": 202, "events": []}"#,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 1)
        let fixtures = folder.path + "/fixtures/"
        #expect(
            result.stdoutLines == [
                "FAIL \(fixtures)error-got-error.json",
                #"  expected error "timeout", got error "\#(folder.path)/rules.lua:3: cannot map a@x.io""#,
                "FAIL \(fixtures)error-got-nothing.json",
                #"  expected error "x", got skip "blank form""#,
                "FAIL \(fixtures)events-got-skip.json",
                #"  expected 1 event, got skip "no email""#,
                "FAIL \(fixtures)no-route.json",
                #"  expected no events, got error "no route for POST /nowhere""#,
                "  status: expected 202, got 404",
                "FAIL \(fixtures)skip-got-events.json",
                #"  expected skip "no email", got 1 event"#,
                "FAIL \(fixtures)skip-other-reason.json",
                #"  expected skip "test account", got skip "no email""#,
                "FAIL \(fixtures)status.json",
                "  status: expected 202, got 200",
                #"  response: expected {"thanks":"b@x.io"}, got {"thanks":"a@x.io"}"#,
                "0 passed, 7 failed",
            ])
    }

    @Test func eventsThatDifferAreShownByPath() async throws {
        let identify = #"{"name": "identify", "user": {"email": "ada@example.com", "plan": "pro"}}"#
        let paid = #"{"name": "Paid invoice", "user": {"email": "ada@example.com"}, "properties": {"amount": 10.0}}"#
        let folder = try Self.folder([
            "changed.json": #"{"record": {"email": "ada@example.com", "plan": "starter"}, "events": [\#(identify)]}"#,
            "unexpected.json":
                #"{"record": {"email": "ada@example.com", "plan": "pro", "paid": 10}, "events": [\#(identify)]}"#,
            "missing.json":
                #"{"record": {"email": "ada@example.com", "plan": "pro"}, "events": [\#(identify), \#(paid)]}"#,
            "numbers-by-value.json":
                #"{"record": {"email": "ada@example.com", "plan": "pro", "paid": 10}, "events": [\#(identify), \#(paid)]}"#,
            "missing-identify.json":
                #"{"record": {"email": "ada@example.com", "plan": "pro", "paid": 10}, "events": [\#(paid)]}"#,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 1)
        let fixtures = folder.path + "/fixtures/"
        #expect(
            result.stdoutLines == [
                "FAIL \(fixtures)changed.json",
                #"  events[0].user.plan: expected "pro", got "starter""#,
                "FAIL \(fixtures)missing-identify.json",
                #"  events[0]: unexpected identify {"email":"ada@example.com"}"#,
                "FAIL \(fixtures)missing.json",
                #"  events[1]: missing event "Paid invoice""#,
                "ok   \(fixtures)numbers-by-value.json",
                "FAIL \(fixtures)unexpected.json",
                #"  events[1]: unexpected event "Paid invoice""#,
                "1 passed, 4 failed",
            ])
    }

    @Test func nowFixesTheRulesClockSoFixturesAreDeterministic() async throws {
        let rule = """
            function on_record(r)
              encharge.track("Clock", { email = r.email },
                { now = os.time(), day = os.date("!%Y-%m-%d %H:%M"), iso = encharge.iso8601(os.time()) })
            end
            function on_webhook(req)
              webhook.verify("stripe", req, "whsec_clock")
              encharge.track("Clock", { email = req.json.email }, { now = os.time() })
            end
            """
        let folder = try Self.folder(
            [
                "clock.json": #"{"record": {"email": "ada@example.com"}, "now": "2026-01-02T03:04:05Z"}"#,
                "epoch.json": #"{"record": {"email": "ada@example.com"}, "now": 1767323045}"#,
                "signed.json": #"""
                {"webhook": {"path": "/", "json": {"email": "ada@example.com"}}, "now": "2026-01-02T03:04:05Z",
                 "sign": {"scheme": "stripe", "secret": "whsec_clock"}}
                """#,
            ], rule: rule)
        defer { folder.cleanup() }
        let update = await Self.test(folder, ["--update"])
        #expect(update.status == 0)
        let clock = #"""
              "events": [
                {
                  "name": "Clock",
                  "properties": {
                    "day": "2026-01-02 03:04",
                    "iso": "2026-01-02T03:04:05Z",
                    "now": 1767323045
                  },
            """#
        #expect(folder.read("fixtures/clock.json").contains(clock))
        #expect(folder.read("fixtures/epoch.json").contains(clock))
        // Signed at the fixture's clock, which webhook.verify's tolerance reads too.
        #expect(folder.read("fixtures/signed.json").contains(#""now": 1767323045"#))
        #expect(folder.read("fixtures/signed.json").contains(#""status": 202,"#))
        let again = await Self.test(
            folder, ["--verify", "stripe", "--secret-file", try Self.secretFile(folder, "whsec_clock")])
        #expect(again.stdoutLines.last == "3 passed, 0 failed")
    }

    @Test func traceShowsABlockPerFixtureOnStderr() async throws {
        let rule = """
            function on_record(r, ctx)
              log.info("mapping " .. r.email)
              encharge.identify{ email = r.email }
            end
            function on_webhook(req)
              webhook.verify("github", req, "gh-rule-secret")
              encharge.track("Starred", { email = req.json.email })
              error("boom")
            end
            """
        let folder = try Self.folder(
            [
                "a.json": #"{"record": {"email": "ada@example.com"}, "events": []}"#,
                "b.json": #"""
                {"webhook": {"path": "/gh", "json": {"email": "a@x.io"}}, "status": 500, "error": "boom",
                 "sign": {"scheme": "github", "secret": "gh-rule-secret"}}
                """#,
                "c.json": #"""
                {"webhook": {"path": "/gh", "headers": {"content-type": "application/json"}, "body": "{"},
                 "status": 400, "error": "not valid JSON"}
                """#,
            ], rule: rule)
        defer { folder.cleanup() }
        let result = await Self.test(folder, ["--trace"])
        #expect(result.status == 1)
        #expect(result.stdoutLines.first == "FAIL \(folder.path)/fixtures/a.json")
        #expect(result.stdoutLines.last == "2 passed, 1 failed")
        let rules = folder.path + "/rules.lua"
        #expect(
            result.stderrLines == [
                "trace \(folder.path)/fixtures/a.json",
                "  \(rules):2  info: mapping ada@example.com",
                #"  \#(rules):3  identify {"email":"ada@example.com"}"#,
                "  outcome: 1 event",
                "trace \(folder.path)/fixtures/b.json (POST /gh)",
                #"  \#(rules):7  track "Starred" {"user":{"email":"a@x.io"}}"#,
                "  \(rules):8  error: boom",
                "\(String(repeating: " ", count: "  \(rules):8  ".count + 2))[C]: in function 'error'",
                "\(String(repeating: " ", count: "  \(rules):8  ".count + 2))\(rules):8: in function 'on_webhook'",
                "  outcome: 500, failed",
                "trace \(folder.path)/fixtures/c.json (POST /gh)",
                "  error: the body is not valid JSON: invalid JSON at byte 1: expected a string key, found end of input",
                "  outcome: 400, failed",
            ])
    }

    @Test func secretsAndSignaturesNeverAppearInTheOutput() async throws {
        let rule = """
            function on_webhook(req)
              log.info("checking " .. req.headers["x-hub-signature-256"] .. " with " .. encharge.settings.gh)
              webhook.verify("github", req, encharge.settings.gh)
              error("the secret was " .. encharge.settings.gh)
            end
            """
        let secret = "gh-fixture-secret-7f3a"
        let folder = try Self.folder(
            [
                "leak.json": """
                {"webhook": {"path": "/gh", "json": {"n": 1}}, "sign": {"scheme": "github", "secret": "\(secret)"},
                 "status": 202, "events": []}
                """
            ], rule: rule)
        defer { folder.cleanup() }
        let signature =
            "sha256=" + Signing.hex(Signing.hmacSHA256(key: Array(secret.utf8), message: Array(#"{"n":1}"#.utf8)))
        for trace in [[], ["--trace"]] {
            let result = await InProcessCommandLine().run(
                [
                    "test", folder.file("rules.lua"), "--set", "gh=\(secret)", "--verify", "github", "--secret-file",
                    try Self.secretFile(folder, secret),
                ] + trace)
            #expect(result.status == 1)
            #expect(
                result.stdoutLines[1]
                    == #"  expected no events, got error "\#(folder.path)/rules.lua:4: the secret was [redacted]""#)
            #expect(result.stderr.contains("checking [redacted] with [redacted]"), "\(result.stderr)")
            for leak in [secret, signature, String(signature.dropFirst(7))] {
                #expect(!result.stdout.contains(leak) && !result.stderr.contains(leak))
            }
        }
    }

    /// A `--secret-file` holding `secret`, readable by its owner only.
    static func secretFile(_ folder: ShortTemporaryDirectory, _ secret: String) throws -> String {
        let path = try folder.write("secret.txt", secret + "\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return path
    }

    @Test func aMalformedFixtureStopsTheRunNamingTheFileAndTheJSONPath() async throws {
        let folder = try Self.folder([
            "good.json": #"{"record": {}, "skip": "no email"}"#,
            "paid.json":
                #"{"webhook": {"path": "/stripe", "headers": {"content-type": 1}}, "status": 202, "events": []}"#,
            "typo.json": #"{"record": {}, "skipped": "no email"}"#,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "nothing runs")
        #expect(
            result.stderrLines == [
                "error: \(folder.path)/fixtures/paid.json: $.webhook.headers.content-type must be a string; it is an integer",
                "error: \(folder.path)/fixtures/typo.json: $.skipped is not a member of a fixture (did you mean \"skip\"?)",
            ])
        let missing = await Self.test(folder, [folder.file("fixtures/gone.json")])
        #expect(missing.status == 2)
        #expect(
            missing.stderrLines == [
                "error: \(folder.path)/fixtures/gone.json: cannot be read (No such file or directory); check the path"
            ])
    }

    @Test func aFixtureWithoutAnExpectationAsksForOneOrForUpdate() async throws {
        let folder = try Self.folder(["new.json": #"{"record": {"email": "a@x.io"}}"#])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 2)
        #expect(
            result.stderrLines == [
                "error: \(folder.path)/fixtures/new.json: $ has no expectation; add \"events\", \"skip\" or \"error\", or run test --update to record what the rule does"
            ])
    }

    @Test func aRuleWithoutTheEntryPointItsFixturesNeedIsExit2AsRunAndServeRefuseIt() async throws {
        let record = #"{"record": {"email": "a@x.io"}, "skip": "x"}"#
        let webhook = #"{"webhook": {"path": "/stripe", "json": {}}, "status": 202, "events": []}"#
        let folder = try Self.folder(
            ["a.json": record, "b.json": record, "c.json": webhook], rule: "local mapping = {}\n")
        defer { folder.cleanup() }
        let rules = folder.file("rules.lua")
        let result = await Self.test(folder)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "nothing runs")
        #expect(
            result.stderrLines == [
                "error: \(rules) defines no on_record(record, ctx) function; `test` runs record fixtures through it as `run` does, so define it or drop the record fixtures (\(folder.path)/fixtures/a.json and 1 more)",
                "error: \(rules) defines neither on_webhook(req) nor a routes table; `test` answers webhook fixtures through one of them as `serve` does, so define one or drop the webhook fixtures (\(folder.path)/fixtures/c.json)",
            ])
        // The same words as the commands that would run them.
        _ = try folder.write("in.jsonl", "{}\n")
        let run = await InProcessCommandLine().run(["run", rules, folder.file("in.jsonl"), "--dry-run"])
        #expect(run.status == 2)
        #expect(
            run.stderrLines == [
                "error: \(rules) defines no on_record(record, ctx) function; `run` calls it once per input record"
            ])

        // A rule with only on_record runs its record fixtures but not a webhook fixture.
        _ = try folder.write("rules.lua", "function on_record(r) encharge.skip('x') end\n")
        let webhookOnly = await Self.test(folder, [folder.file("fixtures/c.json"), folder.file("fixtures/a.json")])
        #expect(webhookOnly.status == 2)
        #expect(
            webhookOnly.stderrLines == [
                "error: \(rules) defines neither on_webhook(req) nor a routes table; `test` answers webhook fixtures through one of them as `serve` does, so define one or drop the webhook fixtures (\(folder.path)/fixtures/c.json)"
            ])
        let records = await Self.test(folder, [folder.file("fixtures/a.json")])
        #expect(records.stdoutLines == ["ok   \(folder.path)/fixtures/a.json", "1 passed, 0 failed"])
    }

    @Test func aFixtureOverTheSizeLimitSaysSoNotToCheckThePath() async throws {
        let folder = try Self.folder(["a.json": #"{"record": {}, "skip": "no email"}"#])
        defer { folder.cleanup() }
        let big = folder.file("fixtures/big.json")
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: UInt64(64 << 20) + 1)
        try handle.close()
        let result = await Self.test(folder)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderrLines == [
                "error: \(big): is larger than 64 MiB, the most a fixture may hold; keep one input per fixture, and map a batch of records with run --dry-run"
            ])
    }

    @Test func logLinesNameTheFixtureFileForWebhooksAsForRecords() async throws {
        let rule = """
            function on_record(r) log.info("record " .. r.email); encharge.skip("x") end
            function on_webhook(req) log.warn("request " .. req.id .. " for " .. req.path) end
            """
        let folder = try Self.folder(
            [
                "a.json": #"{"record": {"email": "a@x.io"}, "skip": "x"}"#,
                "b.json": #"{"webhook": {"path": "/one", "body": ""}, "status": 202, "events": []}"#,
                "c.json": #"{"webhook": {"path": "/two", "body": ""}, "status": 202, "events": []}"#,
            ], rule: rule)
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 0)
        let rules = folder.file("rules.lua")
        #expect(
            result.stderrLines == [
                "a.json: info: record a@x.io (\(rules):1)",
                "b.json: warning: request req_fixture for /one (\(rules):2)",
                "c.json: warning: request req_fixture for /two (\(rules):2)",
            ])
    }

    @Test func aRuleThatDoesNotLoadOrAMissingFixturesFolderIsExit2() async throws {
        let folder = try Self.folder(["a.json": #"{"record": {}, "skip": "x"}"#], rule: "function on_record(r)")
        defer { folder.cleanup() }
        let broken = await Self.test(folder)
        #expect(broken.status == 2)
        #expect(broken.stdout.isEmpty)
        #expect(
            broken.stderrLines == [
                "error: \(folder.path)/rules.lua:1: 'end' expected near <eof> (the rules file does not compile)"
            ])

        let bare = try ShortTemporaryDirectory()
        defer { bare.cleanup() }
        _ = try bare.write("rules.lua", Self.rule)
        let missing = await InProcessCommandLine().run(["test", bare.file("rules.lua")])
        #expect(missing.status == 2)
        #expect(
            missing.stderrLines == [
                "error: \(bare.path)/fixtures: no such folder; put fixture files (*.json) in it, give fixture paths, or start one with encharge-lua init"
            ])
    }

    @Test func updateWritesOutcomesKeepsInputsByteForByteAndIsIdempotent() async throws {
        let record = #"{ "email":"ada@example.com",   "paid": 1.50, "big": 12345678901234567890 }"#
        let webhook = """
            {"path": "/form",
                      "form": {"email": "ada@example.com"}}
            """
        let settings = #"{"default_plan":"starter"}"#
        let folder = try Self.folder([
            "signup.json": #"{"settings": \#(settings), "record": \#(record), "skip": "stale"}"#,
            "form.json": #"{"webhook": \#(webhook), "now": "2026-11-30T12:00:00Z"}"#,
            "passing.json": #"{"record": {},   "skip": "no e"}"#,
            "error.json": #"{"record": {"email": "x@example.com", "fail": true}, "error": "timeout"}"#,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder, ["--update"])
        #expect(result.status == 0)
        #expect(
            result.stdoutLines == [
                "updated \(folder.path)/fixtures/error.json", "updated \(folder.path)/fixtures/form.json",
                "updated \(folder.path)/fixtures/signup.json", "3 updated, 1 unchanged",
            ])
        #expect(folder.read("fixtures/passing.json") == #"{"record": {},   "skip": "no e"}"#, "a passing fixture stays")
        // The rules file's folder is left out, so the fixture passes from any working directory.
        #expect(
            folder.read("fixtures/error.json") == """
                {
                  "error": "rules.lua:3: cannot map x@example.com",
                  "record": {"email": "x@example.com", "fail": true}
                }

                """)
        let signup = folder.read("fixtures/signup.json")
        #expect(
            signup == """
                {
                  "events": [
                    {
                      "name": "identify",
                      "user": {
                        "email": "ada@example.com",
                        "plan": "starter"
                      }
                    },
                    {
                      "name": "Paid invoice",
                      "properties": {
                        "amount": 1.5
                      },
                      "user": {
                        "email": "ada@example.com"
                      }
                    }
                  ],
                  "record": \(record),
                  "settings": \(settings)
                }

                """)
        let form = folder.read("fixtures/form.json")
        #expect(form.contains("\n  \"webhook\": \(webhook)\n}\n"), "the webhook input is copied byte for byte")
        #expect(form.contains("\n  \"now\": \"2026-11-30T12:00:00Z\",\n"))
        #expect(form.contains("\n  \"status\": 200,\n"))
        #expect(form.contains("\n  \"response\": {\n    \"thanks\": \"ada@example.com\"\n  },\n"))

        let again = await Self.test(folder, ["--update"])
        #expect(again.stdoutLines == ["0 updated, 4 unchanged"])
        #expect(folder.read("fixtures/signup.json") == signup)
        #expect(folder.read("fixtures/form.json") == form)
        let passing = await Self.test(folder)
        #expect(passing.status == 0)
        #expect(passing.stdoutLines.last == "4 passed, 0 failed")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.file("fixtures")).sorted() == [
                "error.json", "form.json", "passing.json", "signup.json",
            ])
    }

    @Test(arguments: ["stripe", "github", "shopify", "standard", "hmac"])
    func aSignedWebhookPassesTheRulesVerifyAndABadlySignedOneIs401(scheme: String) async throws {
        let secret = try #require(Self.secrets[scheme])
        let folder = try Self.folder([
            "signed.json": Self.signedFixture(scheme, secret: secret),
            "forged.json": """
            {"webhook": {"path": "/\(scheme)", "json": {"email": "ada@example.com", "amount": 42}},
             "sign": {"scheme": "\(scheme)", "secret": "\(scheme == "standard" ? "whsec_AAAAAAAAAAAAAAAA" : "not-the-secret")"\(scheme == "hmac" ? #", "header": "x-acme-signature""# : "")},
             "status": 401, "error": "webhook.verify: ",
             "response": {"error": {"message": "signature verification failed", "request_id": "req_fixture"}}}
            """,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdoutLines.last == "2 passed, 0 failed")
        for secret in Self.secrets.values {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        }
    }

    @Test(arguments: ["stripe", "github", "shopify", "standard", "hmac"])
    func verifyOnTheCommandChecksSignaturesAsServeDoes(scheme: String) async throws {
        let secret = try #require(Self.secrets[scheme])
        let folder = try Self.folder([
            "signed.json": Self.signedFixture(scheme, secret: secret),
            "unsigned.json": """
            {"webhook": {"path": "/\(scheme)", "json": {"email": "ada@example.com", "amount": 42}},
             "status": 202, "events": []}
            """,
        ])
        defer { folder.cleanup() }
        let secretFile = try Self.secretFile(folder, secret)
        let header = scheme == "hmac" ? ["--hmac-header", "X-Acme-Signature"] : []
        let result = await Self.test(folder, ["--verify", scheme, "--secret-file", secretFile] + header)
        #expect(result.status == 1)
        let missing =
            switch scheme {
            case "stripe": "Stripe-Signature"
            case "github": "X-Hub-Signature-256"
            case "shopify": "X-Shopify-Hmac-Sha256"
            case "standard": "webhook-id"
            default: "x-acme-signature"
            }
        #expect(
            result.stdoutLines == [
                "ok   \(folder.path)/fixtures/signed.json",
                "FAIL \(folder.path)/fixtures/unsigned.json",
                #"  expected no events, got error "signature verification failed: the request has no \#(missing) header""#,
                "  status: expected 202, got 401",
                "1 passed, 1 failed",
            ])
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
    }

    @Test func verifyFlagsAreCheckedAsServeChecksThem() async throws {
        let folder = try Self.folder(["a.json": #"{"record": {}, "skip": "no email"}"#])
        defer { folder.cleanup() }
        let rules = folder.file("rules.lua")
        let scheme = await InProcessCommandLine().run(["test", rules, "--verify", "paypal"])
        #expect(scheme.status == 2)
        #expect(scheme.stderrLines.first == "error: --verify must be stripe, github, shopify, standard or hmac")
        let noSecret = await InProcessCommandLine().run(["test", rules, "--verify", "stripe"])
        #expect(noSecret.status == 2)
        #expect(noSecret.stderrLines.first == "error: --verify needs --secret-file PATH with the signing secret")
        let unreadable = await InProcessCommandLine().run([
            "test", rules, "--verify", "stripe", "--secret-file", folder.file("missing.txt"),
        ])
        #expect(unreadable.status == 2)
        #expect(
            unreadable.stderrLines == [
                "error: cannot read --secret-file \(folder.file("missing.txt")): No such file or directory; give a readable file that holds the secret"
            ])
        #expect(unreadable.stdout.isEmpty)
        // A secret without a scheme would check nothing; serve refuses it alike.
        let secret = try Self.secretFile(folder, "whsec_unused")
        for command in ["test", "serve"] {
            let alone = await InProcessCommandLine().run([command, rules, "--secret-file", secret])
            #expect(alone.status == 2)
            #expect(
                alone.stderrLines.first
                    == "error: --secret-file is the signing secret for --verify; add --verify SCHEME (stripe, github, shopify, standard or hmac) or drop --secret-file"
            )
            #expect(alone.stdout.isEmpty)
        }
    }

    @Test func aFixtureOverTheInstructionBudgetFailsWithTheBudgetMessage() async throws {
        let folder = try Self.folder([
            "spin.json": #"{"record": {"email": "a@x.io", "spin": true}, "events": []}"#,
            "spin-expected.json": #"{"record": {"email": "a@x.io", "spin": true}, "error": "instruction limit"}"#,
        ])
        defer { folder.cleanup() }
        let result = await Self.test(folder, ["--instruction-limit", "100000"])
        #expect(result.status == 1)
        #expect(
            result.stdoutLines == [
                "ok   \(folder.path)/fixtures/spin-expected.json",
                "FAIL \(folder.path)/fixtures/spin.json",
                #"  expected no events, got error "\#(folder.path)/rules.lua:4: instruction limit of 100000 exceeded (an endless loop?)""#,
                "1 passed, 1 failed",
            ])
    }
}
