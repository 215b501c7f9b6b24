import EnchargeKit
import EnchargeRules
import EnchargeSpool
import JSONKit
import SystemKit
import WebhookSignatures

/// `encharge-lua replay --spool PATH-OR-URL [--rules RULES]`: dead events go back to pending (a
/// running or the next `serve` or `deliver` delivers them), and kept failed requests run again
/// through the fixed rule; their events are spooled and the request is forgotten, or it stays kept
/// with the new error. Returns `.success` when all were replayed, `.someFailed` when some requests
/// failed again, and `.usage` when the spool cannot be opened or the rule loaded.
package func replaySpool(_ opening: SpoolOpening, rule: RuleOptions?, context: CommandContext) async -> ExitStatus {
    let opened: OpenedSpool
    do { opened = try await opening.open() } catch {
        context.diagnostics.write("error: \(error)")
        return .usage
    }
    let status = await replay(opened.spool, rule: rule, context: context)
    await opened.close()
    return status
}

/// `replaySpool` on the open spool.
private func replay(_ spool: any EventSpool, rule: RuleOptions?, context: CommandContext) async -> ExitStatus {
    let diagnostics = context.diagnostics
    var engine: RuleEngine? = nil
    if let rule {
        do { engine = try RuleEngine(options: rule.logging(to: context.stderr)) } catch {
            diagnostics.write("error: \(error.description)")
            return .usage
        }
        // Replayed requests are old: signatures are still checked, their timestamps are not.
        engine?.ignoreSignatureTimestamps = true
    }
    do {
        let requeued = try await spool.requeueDeadEvents()
        diagnostics.write("\(requeued) dead event\(requeued == 1 ? "" : "s") re-queued for delivery")
        let failed = try await spool.failedRequests()
        guard let engine else {
            if !failed.isEmpty {
                diagnostics.write(
                    "warning: \(failed.count) failed request\(failed.count == 1 ? " is" : "s are") kept; pass --rules RULES (the fixed rule) to run them again"
                )
            }
            return .success
        }
        var replayed = 0, again = 0, duplicates = 0
        for kept in failed {
            guard let request = WebhookRequest(json: kept.request) else {
                diagnostics.write("request \(kept.requestID): error: the kept request cannot be read; it stays kept")
                again += 1
                continue
            }
            // The dedup key guards against sending one delivery twice (the sender's retry may have
            // succeeded since, or the same delivery may be kept twice): the key found when the
            // request was kept (a verified Stripe event id), else the headers' delivery id; the
            // fixed rule's own key (`webhook.dedup`, `webhook.verify("stripe", ...)`) is checked
            // when its events are stored.
            let keptKey = request.dedupKey ?? WebhookVerifier.deliveryID(nil, headers: request.headerDictionary)
            if let keptKey, try await spool.hasSeen(dedupKey: keptKey) {
                try await spool.deleteFailedRequest(kept.requestID)
                duplicates += 1
                continue
            }
            switch engine.handleWebhook(request) {
            case .handled(let events, _):
                let key = engine.dedupKey ?? keptKey
                let result = try await spool.accept(
                    requestID: kept.requestID, dedupKey: key, events: events, source: "request \(kept.requestID)")
                try await spool.deleteFailedRequest(kept.requestID)
                if result == .duplicate {
                    duplicates += 1
                } else {
                    replayed += 1
                }
            case .failed(let message, let traceback), .overBudget(let message, let traceback):
                again += 1
                diagnostics.write(MappingRun.compilerStyle(message, source: "request \(kept.requestID)"))
                _ = try? await spool.keepFailedRequest(
                    requestID: kept.requestID, request: kept.request, error: message, traceback: traceback)
            case .unauthorized(let message):
                again += 1
                diagnostics.write(
                    "request \(kept.requestID): error: signature check failed again: \(Diagnostics.escaped(message))")
            case .notFound:
                again += 1
                diagnostics.write(
                    "request \(kept.requestID): error: no route for \(Diagnostics.escaped("\(request.method) \(request.path)")) in the fixed rule"
                )
            }
        }
        for warning in engine.warningLines() { diagnostics.write(warning) }
        diagnostics.write(
            "\(replayed) failed request\(replayed == 1 ? "" : "s") replayed, \(again) failed again (still kept), \(duplicates) already delivered under the same dedup key (dropped)"
        )
        return again > 0 ? .someFailed : .success
    } catch {
        diagnostics.write("error: \(error)")
        return .usage
    }
}
