import EnchargeKit
import EnchargeRules
import JSONKit
import LuaKit
import SystemKit
import WebhookServer
import WebhookSignatures

/// Runs fixtures through the rule the way production does: a record through `on_record` as `run`
/// maps it, a webhook through the checks, the rule and the answer of `serve`. Each fixture gets a
/// freshly loaded rule, so no fixture sees another's globals, with its own settings and clock.
struct FixtureRunner {
    /// The request id a webhook fixture's request carries (in error bodies and `req.id`).
    static let requestID = "req_fixture"

    let rule: RuleOptions
    let verification: TestJobConfiguration.Verification?
    /// Told, on a watchdog thread, of a fixture whose rule call is stuck in a library function past
    /// twice the time limit; the process then exits 1 (unless this ends it first, as `diff` does).
    let onStuckCall: @Sendable (_ file: String, _ message: String) -> Void
    /// Where `--trace` blocks go (the job's stderr); nil without `--trace`.
    let traces: DiagnosticsPrinter?
    /// The command a stuck call's message names (`the test stops here`).
    var job = "test"

    /// The rule's options for `fixture`: its settings over the command's, its clock, and its log
    /// lines through `redaction`.
    func options(for fixture: Fixture, redaction: CredentialRedaction) -> RuleOptions {
        var options = rule
        if let settings = fixture.settings {
            for member in settings { options.settings[member.key] = member.value }
        }
        options.fixedNow = fixture.now
        options.trace = traces != nil
        options.logWriter = RedactingOutputWriter(base: rule.logWriter, redaction: redaction)
        return options
    }

    /// What nothing printed about `fixture` may show: the `--verify` secret, the fixture's signing
    /// secret, settings named like a secret, and its request's credential headers.
    func redaction(for fixture: Fixture) -> CredentialRedaction {
        var secrets = [verification?.secret].compactMap { $0 }
        var hmacHeader = verification?.options.hmac.header ?? HMACOptions().header
        var headers: [(String, String)] = []
        if case .webhook(let webhook) = fixture.input {
            headers = webhook.headers
            if let signature = webhook.signature {
                secrets.append(signature.secret)
                if signature.scheme == .hmac { hmacHeader = signature.header }
            }
        }
        var settings = rule.settings
        for member in fixture.settings ?? JSONObject() { settings[member.key] = member.value }
        return CredentialRedaction(secrets: secrets, settings: settings, hmacHeader: hmacHeader)
            .including(headers: headers)
    }

    /// What the rule made of `fixture`'s input.
    func outcome(of fixture: Fixture) -> FixtureOutcome {
        let redaction = redaction(for: fixture)
        let options = options(for: fixture, redaction: redaction)
        let engine: RuleEngine
        do { engine = try RuleEngine(options: options) } catch {
            traces?.writeRaw(
                redaction.redact(
                    Self.traceBlock(of: fixture, entries: [], outcome: FixtureOutcome(.error(error.description)))))
            return FixtureOutcome(.error(error.description))
        }
        let handover = AbandonedTestHandover(engine: engine, file: fixture.file, job: job, report: onStuckCall)
        let watchdog = RuleWatchdog(clock: engine.callClock, timeLimit: options.limits.seconds) { seconds in
            handover.finish(runningSeconds: seconds)
        }
        defer { watchdog.stop() }
        let outcome = Self.outcome(of: fixture, engine: engine, verification: verification)
        if let traces, let entries = engine.trace?.take() {
            traces.writeRaw(redaction.redact(Self.traceBlock(of: fixture, entries: entries, outcome: outcome)))
        }
        return outcome
    }

    /// The `--trace` block of a fixture: `trace fixtures/paid.json (POST /stripe)`, what the rule
    /// did, and `outcome: 202, 1 event`. A failure the rule's call did not record (a refusal before
    /// the rule ran, a rule that did not load) is added as the last step.
    static func traceBlock(of fixture: Fixture, entries: [RuleTrace.Entry], outcome: FixtureOutcome) -> String {
        var entries = entries
        let header: String
        switch fixture.input {
        case .record: header = fixture.file
        case .webhook(let webhook): header = "\(fixture.file) (\(webhook.method) \(webhook.path))"
        }
        let status = outcome.status.map { "\($0), " } ?? ""
        let result: String
        switch outcome.result {
        case .events(let events): result = TraceBlock.eventCount(events.count)
        case .skip: result = "skipped"
        case .error(let message):
            result = "failed"
            if !entries.contains(where: { if case .error = $0.kind { true } else { false } }) {
                entries.append(RuleTrace.Entry(failure: message, traceback: nil))
            }
        }
        return TraceBlock.render(header: header, entries: entries, outcome: status + result)
    }

    /// What `engine` makes of `fixture`'s input: a record mapped as `run` maps it, a webhook
    /// answered as `serve` answers it (with `verification` as its `--verify`). `diff` runs
    /// fixtures on its own engines through this.
    static func outcome(
        of fixture: Fixture, engine: RuleEngine, verification: TestJobConfiguration.Verification?
    ) -> FixtureOutcome {
        switch fixture.input {
        case .record(let record):
            switch engine.map(value: record, source: fixture.source) {
            case .mapped(let events): return FixtureOutcome(.events(events.map(\.jsonValue)))
            case .skipped(let reason): return FixtureOutcome(.skip(reason))
            case .failed(let message, _): return FixtureOutcome(.error(message))
            }
        case .webhook(let webhook):
            return answer(
                webhook.request(id: requestID), source: fixture.source, engine: engine, verification: verification)
        }
    }

    /// `serve`'s answer to `request`: the signature check of `--verify` (401), the body check (400),
    /// then the rule and its answer; the rule's log lines name `source` (the fixture file), since
    /// every fixture's request has the same id.
    private static func answer(
        _ request: WebhookRequest, source: String, engine: RuleEngine,
        verification: TestJobConfiguration.Verification?
    ) -> FixtureOutcome {
        do {
            if let verification {
                // The fixture's clock is "now" for the signature's timestamp too.
                var options = verification.options
                options.now = engine.options.fixedNow.map(Double.init) ?? options.now
                try WebhookRefusal.checkSignature(
                    verification.scheme, secret: verification.secret, options: options,
                    headers: request.headerDictionary, body: request.body)
            }
            _ = try WebhookRefusal.checkBody(of: request, verifyScheme: verification?.scheme)
        } catch {
            return FixtureOutcome(
                .error(error.message), status: error.status,
                response: FixtureOutcome.response(body: error.body(requestID: request.id)))
        }
        let route = "\(request.method) \(request.path)"
        let outcome = engine.handleWebhook(request, source: source)
        let answer = outcome.answer(route: route, requestID: request.id)
        let result: FixtureOutcome.Result
        switch outcome {
        case .handled(let events, _):
            result = engine.skipReason.map { .skip($0) } ?? .events(events.map(\.jsonValue))
        case .notFound: result = .error("no route for \(route)")
        case .unauthorized(let reason): result = .error("webhook.verify: \(reason)")
        case .failed(let message, _), .overBudget(let message, _): result = .error(message)
        }
        return FixtureOutcome(result, status: answer.status, response: FixtureOutcome.response(body: answer.body))
    }
}
