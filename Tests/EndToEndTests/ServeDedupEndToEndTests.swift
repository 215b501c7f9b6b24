import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Every webhook event once: Stripe event ids and a rule's own `webhook.dedup` key deduplicate
/// live retries and `replay --spool`; form bodies decode exactly or are refused.
extension ServeEndToEndTests {
    /// A Stripe `invoice.paid` event for one payer, carrying `seq`.
    static func stripeEvent(_ id: String, seq: Int) -> [UInt8] {
        Array(#"{"id":"\#(id)","object":"event","type":"invoice.paid","data":{"object":{"customer_email":"payer@example.com","seq":\#(seq)}}}"#.utf8)
    }

    /// The README's flow: the rule fails on an event (500, kept), is fixed and reloaded (SIGHUP),
    /// Stripe retries it (delivered), then `replay --spool` runs the kept copy: it must be dropped.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func aStripeEventRetriedAfterAFixIsDeliveredOnceEvenAfterReplay(verifyInRule: Bool) throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let secret = SigningScheme.stripe.secret("e2e-dedup")
        let verify = verifyInRule ? #"webhook.verify("stripe", req, encharge.settings.stripe_secret)"# : ""
        func rule(fixed: Bool) -> String {
            """
            function on_webhook(req)
              \(verify)
              local invoice = req.json.data.object
              local plan = \(fixed ? #"invoice.plan and invoice.plan.name or "free""# : "invoice.plan.name")
              encharge.track("Paid invoice", { email = invoice.customer_email }, { plan = plan, seq = invoice.seq })
            end
            """
        }
        let rules = try tmp.write("rules.lua", rule(fixed: false))
        let flags = verifyInRule
            ? ["--set", "stripe_secret=" + secret]
            : ["--verify", "stripe", "--secret-file", try tmp.write("stripe.secret", secret)]
        let serve = try startServe(rules, tmp, mock, flags)
        defer { serve.kill9() }
        // Stripe signs every attempt anew, with the time of that attempt.
        func send(_ body: [UInt8]) throws -> HTTPReply {
            let signature = SigningScheme.stripe.sign(body, secret: secret, timestamp: Int(Date().timeIntervalSince1970), id: "")
            return try serve.send("POST", "/stripe", headers: [("Content-Type", "application/json; charset=utf-8")] + signature, body: body)
        }

        let first = try send(Self.stripeEvent("evt_1QdedupA", seq: 1))
        #expect(first.status == 500, "\(first)")
        _ = try tmp.write("rules.lua", rule(fixed: true))
        serve.signal(SIGHUP)
        #expect(eventually(timeout: 10) { serve.stderr.contains("rules reloaded") }, "\(serve.stderr)")
        let retry = try send(Self.stripeEvent("evt_1QdedupA", seq: 1))
        #expect(retry.status == 202, "Stripe's retry runs the fixed rule: \(retry)")
        #expect(waitForSeq(1, mock))

        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite", "--rules", rules] + (verifyInRule ? flags : []),
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("0 failed requests replayed, 0 failed again (still kept), 1 already delivered under the same dedup key (dropped)"), "\(replay.stderr)")

        // A second delivery of an event that was accepted is a duplicate too.
        #expect(try send(Self.stripeEvent("evt_1QdedupB", seq: 2)).status == 202)
        let again = try send(Self.stripeEvent("evt_1QdedupB", seq: 2))
        #expect(again.status == 200, "\(again)")
        #expect(again.json?["duplicate"] as? Bool == true)
        // One payer: spool order is delivery order, so once seq 3 arrived nothing earlier is still coming.
        #expect(try send(Self.stripeEvent("evt_1QdedupC", seq: 3)).status == 202)
        #expect(waitForSeq(3, mock))
        #expect(recordedSeqs(mock) == [1, 2, 3])
    }

    @Test(.timeLimit(.minutes(2)))
    func webhookDedupGivesAnyProviderADedupKeyRecordedOnlyOnSuccess() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", """
            function on_webhook(req)
              webhook.dedup(req.json.event_id)
              log.info("rule ran seq=" .. req.json.seq .. ";")
              if req.json.fail then error("cannot handle this one") end
              encharge.track("Hooked", { email = "hooked@example.com" }, { seq = req.json.seq })
              return { status = 200, body = "ok" }
            end
            """)
        let serve = try startServe(rules, tmp, mock)
        defer { serve.kill9() }
        func post(_ id: String, seq: Int, fail: Bool = false) throws -> HTTPReply {
            try serve.postJSON("/", #"{"event_id":\#(id),"seq":\#(seq),"fail":\#(fail)}"#)
        }
        #expect(try post(#""ev-1""#, seq: 1).status == 200)
        let duplicate = try post(#""ev-1""#, seq: 2)
        #expect(duplicate.status == 200, "\(duplicate)")
        #expect(duplicate.json?["duplicate"] as? Bool == true, "\(duplicate)")
        // An integer key works like its digits; another key is another request.
        #expect(try post("42", seq: 3).status == 200)
        #expect(try post("42", seq: 4).json?["duplicate"] as? Bool == true)
        // A key is recorded only when the request succeeded: the sender's retry runs the rule again.
        #expect(try post(#""ev-5""#, seq: 5, fail: true).status == 500)
        let retried = try post(#""ev-5""#, seq: 5)
        #expect(retried.status == 200 && retried.json == nil, "\(retried)")
        // A key that is not a string or an integer fails the request with a message.
        #expect(try post("{}", seq: 6).status == 500)
        #expect(serve.stderr.contains("webhook.dedup: the key must be a string or an integer, got table"), "\(serve.stderr)")
        #expect(try post(#""ev-7""#, seq: 7).status == 200)
        #expect(waitForSeq(7, mock))
        #expect(recordedSeqs(mock) == [1, 3, 5, 7])
        #expect(serve.stderrCount("rule ran seq=5;") == 2)
    }

}
