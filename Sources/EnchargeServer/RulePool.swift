import EnchargeRules
import Foundation
import Synchronization

/// What the pool hands back for one request: the rule's outcome and the dedup key the rule set
/// (`webhook.dedup(key)` or a verified Stripe event id), nil when it set none.
public struct WebhookRun: Sendable {
    public var outcome: WebhookOutcome
    public var dedupKey: String?
}

/// N rule engines, each confined to its own thread, serving webhook requests. A request waits for
/// a free engine only while fewer than `maxWaiting` requests wait; beyond that the caller gets
/// nil and answers 503, so overload never grows memory.
///
/// Lua runs only on the pool's threads, never on a Swift concurrency thread, so no `await`
/// happens while a Lua call is on the stack.
public final class RulePool: Sendable {
    struct Job {
        let request: WebhookRequest
        let continuation: CheckedContinuation<WebhookRun, Never>
    }

    struct State {
        var jobs: [Job] = []
        var head = 0
        var stopping = false
        var options: RuleOptions
        var generation = 0
    }

    /// Guards `State`. An NSCondition rather than `Mutex` because idle workers must sleep until
    /// work arrives.
    private let condition = NSCondition()
    // Invariant: only read or written while `condition` is locked.
    nonisolated(unsafe) private var state: State
    public let size: Int
    /// Whether the rule routes by a `routes` table (then route names are bounded, for metrics).
    public let routesDefined: Bool
    public let maxWaiting: Int
    private let busy = Atomic<Int>(0)

    /// Loads the rule once on the caller's thread (so a broken rule fails here, with exit 2), then
    /// starts `size` worker threads that each load their own engine.
    public init(options: RuleOptions, size: Int, maxWaiting: Int) throws(RuleLoadError) {
        let options = try Self.snapshot(options)
        let probe = try RuleEngine(options: options)
        guard probe.servesWebhooks else {
            throw RuleLoadError("\(options.rulesPath) defines neither on_webhook(req) nor a routes table; serve calls one of them per request")
        }
        self.size = max(1, size)
        self.maxWaiting = max(1, maxWaiting)
        state = State(options: options)
        routesDefined = probe.definesTable("routes")
        for index in 0..<self.size {
            let thread = Thread { [self] in self.work() }
            thread.name = "rules-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Requests running or waiting for an engine.
    public var load: Int { busy.load(ordering: .relaxed) }

    /// Runs the rule for `request` on a free engine; nil when the pool is saturated.
    public func run(_ request: WebhookRequest) async -> WebhookRun? {
        guard busy.add(1, ordering: .relaxed).newValue <= size + maxWaiting else {
            busy.subtract(1, ordering: .relaxed)
            return nil
        }
        defer { busy.subtract(1, ordering: .relaxed) }
        return await withCheckedContinuation { continuation in
            condition.lock()
            state.jobs.append(Job(request: request, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Loads the rule again (SIGHUP). A rule that does not load is refused and the old one keeps
    /// serving; the error says why.
    public func reload() throws(RuleLoadError) {
        condition.lock()
        var options = state.options
        condition.unlock()
        options.source = nil
        options = try Self.snapshot(options)
        let probe = try RuleEngine(options: options)
        guard probe.servesWebhooks else {
            throw RuleLoadError("\(options.rulesPath) defines neither on_webhook(req) nor a routes table")
        }
        condition.lock()
        state.options = options
        state.generation += 1
        condition.unlock()
    }

    /// Reads the rule's text once, so every worker loads exactly the version that was checked.
    static func snapshot(_ options: RuleOptions) throws(RuleLoadError) -> RuleOptions {
        var options = options
        do {
            options.source = try readFile(options.rulesPath, limit: 16 << 20)
        } catch {
            throw RuleLoadError("cannot read \(options.rulesPath): \(error.description); check the path of the rules file")
        }
        return options
    }

    public func stop() {
        condition.lock()
        state.stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        var options = state.options
        var generation = state.generation
        condition.unlock()
        // The first load cannot fail: the same file loaded in init (a file changed since then is
        // reported and the worker keeps trying on the next request).
        var engine = try? RuleEngine(options: options)
        while true {
            condition.lock()
            while state.head >= state.jobs.count && !state.stopping { condition.wait() }
            if state.stopping && state.head >= state.jobs.count {
                condition.unlock()
                return
            }
            let job = state.jobs[state.head]
            state.head += 1
            if state.head > 1024 && state.head * 2 > state.jobs.count {
                state.jobs.removeFirst(state.head)
                state.head = 0
            }
            let wanted = state.generation
            options = state.options
            condition.unlock()
            if wanted != generation || engine == nil {
                if let fresh = try? RuleEngine(options: options) { engine = fresh }
                generation = wanted
            }
            let outcome = engine?.handleWebhook(job.request)
                ?? .failed(message: "\(options.rulesPath): the rule could not be loaded", traceback: nil)
            job.continuation.resume(returning: WebhookRun(outcome: outcome, dedupKey: engine?.dedupKey))
        }
    }
}
