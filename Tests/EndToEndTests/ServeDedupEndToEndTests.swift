import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every webhook event once, across a reload and `replay --spool`: a Stripe event id deduplicates
/// the sender's retry after a fix and the kept copy of the failed request. The in-process cases
/// (delivery ids, `webhook.dedup`, forms) are in WebhookServerTests.
extension ServeEndToEndTests {
    /// A Stripe `invoice.paid` event for one payer, carrying `seq`.
    static func stripeEvent(_ id: String, seq: Int) -> [UInt8] {
        Array(
            #"{"id":"\#(id)","object":"event","type":"invoice.paid","data":{"object":{"customer_email":"payer@example.com","seq":\#(seq)}}}"#
                .utf8)
    }

    /// The README's flow: the rule fails on an event (500, kept), is fixed and reloaded (SIGHUP),
    /// Stripe retries it (delivered), then `replay --spool` runs the kept copy: it must be dropped.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func aStripeEventRetriedAfterAFixIsDeliveredOnceEvenAfterReplay(verifyInRule: Bool) async throws {
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
        let flags =
            verifyInRule
            ? ["--set", "stripe_secret=" + secret]
            : ["--verify", "stripe", "--secret-file", try tmp.write("stripe.secret", secret)]
        let serve = try startServe(rules, tmp, mock, flags)
        defer { serve.kill9() }
        // Stripe signs every attempt anew, with the time of that attempt.
        func send(_ body: [UInt8]) throws -> HTTPReply {
            let signature = SigningScheme.stripe.sign(
                body, secret: secret, timestamp: Int(Date().timeIntervalSince1970), id: "")
            return try serve.send(
                "POST", "/stripe", headers: [("Content-Type", "application/json; charset=utf-8")] + signature,
                body: body)
        }

        let first = try send(Self.stripeEvent("evt_1QdedupA", seq: 1))
        #expect(first.status == 500, "\(first)")
        _ = try tmp.write("rules.lua", rule(fixed: true))
        serve.signal(SIGHUP)
        await eventually("\(serve.stderr)", timeout: .seconds(10)) { serve.stderr.contains("rules reloaded") }
        let retry = try send(Self.stripeEvent("evt_1QdedupA", seq: 1))
        #expect(retry.status == 202, "Stripe's retry runs the fixed rule: \(retry)")
        #expect(await waitForSeq(1, mock))

        let replay = try Binary.run(
            ["replay", "--spool", tmp.path + "/spool.sqlite", "--rules", rules] + (verifyInRule ? flags : []),
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(
            replay.stderr.contains(
                "0 failed requests replayed, 0 failed again (still kept), 1 already delivered under the same dedup key (dropped)"
            ), "\(replay.stderr)")

        // A second delivery of an event that was accepted is a duplicate too.
        #expect(try send(Self.stripeEvent("evt_1QdedupB", seq: 2)).status == 202)
        let again = try send(Self.stripeEvent("evt_1QdedupB", seq: 2))
        #expect(again.status == 200, "\(again)")
        #expect(again.json?["duplicate"] as? Bool == true)
        // One payer: spool order is delivery order, so once seq 3 arrived nothing earlier is still coming.
        #expect(try send(Self.stripeEvent("evt_1QdedupC", seq: 3)).status == 202)
        #expect(await waitForSeq(3, mock))
        #expect(recordedSeqs(mock) == [1, 2, 3])
    }

}
