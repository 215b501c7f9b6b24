import EnchargeRules
import LuaKit
import Synchronization
import SystemKit

/// N rule engines, each confined to its own thread, serving webhook requests. A request waits for
/// a free engine only while fewer than `maxWaiting` requests wait; beyond that the caller gets
/// nil and answers 503, so overload never grows memory.
///
/// Lua runs only on the pool's threads, never on a Swift concurrency thread, so no `await`
/// happens while a Lua call is on the stack.
package final class RulePool: Sendable {
    struct Job: Sendable {
        let request: WebhookRequest
        let continuation: CheckedContinuation<WebhookRun, Never>
    }

    /// The job a worker is running, shared with its engine's watchdog: whichever of the two takes
    /// it answers it (the watchdog only after the worker's call was given up).
    final class RunningJob: Sendable {
        let job = Mutex<Job?>(nil)
    }

    /// An engine whose call a watchdog gave up, handed to the watchdog thread.
    struct StuckEngine: @unchecked Sendable {
        // Invariant: read by the watchdog thread only after `LuaCallClock.abandon` succeeded, when
        // the worker thread that owns the engine is parked for good and never touches it again.
        let engine: RuleEngine
    }

    struct State {
        var jobs: [Job] = []
        var head = 0
        var stopping = false
        var options: RuleOptions
        var generation = 0
    }

    /// The queue and the rule's options; idle workers sleep on it until work arrives or the pool stops.
    private let state: ConditionLock<State>
    /// The worker threads to join on stop, by name. A worker the watchdog gave up is parked for
    /// good inside a library call, so its thread is detached instead and leaves this list.
    private let workers = Mutex<[String: JoinableThread]>([:])
    /// Worker threads, each with its own Lua state.
    package let size: Int
    /// Whether the rule routes by a `routes` table (then route names are bounded, for metrics).
    package let routesDefined: Bool
    /// Requests that may wait for a free engine before `run` answers nil.
    package let maxWaiting: Int
    private let busy = Atomic<Int>(0)
    private let overruns = Atomic<Int>(0)
    private let collectedWarnings = Mutex(RuleWarnings())
    /// Told each time a watchdog gives a stuck call up (the message names the rule line).
    private let onOverrun: @Sendable (String) -> Void

    /// Loads the rule once on the caller's thread (so a broken rule fails here, with exit 2), then
    /// starts `size` worker threads that each load their own engine.
    package init(
        options: RuleOptions, size: Int, maxWaiting: Int, onOverrun: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(RuleLoadError) {
        let options = try Self.snapshot(options)
        let probe = try RuleEngine(options: options)
        guard probe.servesWebhooks else {
            throw RuleLoadError(
                RuleEngine.noWebhookEntryMessage(rulesPath: options.rulesPath) + "; serve calls one of them per request"
            )
        }
        self.size = max(1, size)
        self.maxWaiting = max(1, maxWaiting)
        state = ConditionLock(State(options: options))
        routesDefined = probe.definesTable("routes")
        self.onOverrun = onOverrun
        for index in 0..<self.size { startWorker(name: "rules-\(index)") }
    }

    /// Each Lua thread's stack, pinned rather than taken from `ulimit -s` so that how deep a rule
    /// may nest C calls does not depend on the machine.
    static let stackSize = 8 << 20

    /// Starts a worker thread; a system that refuses one leaves the pool a worker short (the
    /// others serve, and `/healthz` reports a pool whose workers stay busy).
    private func startWorker(name: String) {
        guard let thread = JoinableThread.start(stackSize: Self.stackSize, { [self] in self.work(name: name) }) else {
            return
        }
        workers.withLock { $0[name] = thread }
    }

    /// Worker threads that `stop` would join (a worker the watchdog gave up is not one of them).
    var workerThreads: Int { workers.withLock { $0.count } }

    /// Requests running or waiting for an engine.
    package var load: Int { busy.load(ordering: .relaxed) }

    /// Rule calls a watchdog gave up (stuck in one library call past 2× the time limit); each one's
    /// request was answered 500, its thread left behind, and a new worker took its place.
    package var watchdogOverruns: Int { overruns.load(ordering: .relaxed) }

    /// The counted warnings of every worker since the last call, and counting starts afresh.
    package func takeRunWarnings() -> RuleWarnings {
        collectedWarnings.withLock { warnings in
            defer { warnings = RuleWarnings() }
            return warnings
        }
    }

    /// Runs the rule for `request` on a free engine; nil when the pool is saturated.
    package func run(_ request: WebhookRequest) async -> WebhookRun? {
        guard busy.add(1, ordering: .relaxed).newValue <= size + maxWaiting else {
            busy.subtract(1, ordering: .relaxed)
            return nil
        }
        defer { busy.subtract(1, ordering: .relaxed) }
        return await withCheckedContinuation { continuation in
            state.withLock { $0.jobs.append(Job(request: request, continuation: continuation)) }
            state.signal()
        }
    }

    /// Loads the rule again (SIGHUP). A rule that does not load is refused and the old one keeps
    /// serving; the error says why.
    package func reload() throws(RuleLoadError) {
        var options = state.withLock { $0.options }
        options.source = nil
        options = try Self.snapshot(options)
        try Self.probe(options)
        state.withLock { state in
            state.options = options
            state.generation += 1
        }
    }

    /// Loads `options` once on a thread of its own and checks it serves webhooks. A top level
    /// stuck in one library call past 2× the time limit is refused, and its thread is left
    /// behind, so that the next reload still runs.
    static func probe(_ options: RuleOptions) throws(RuleLoadError) {
        let result = ConditionLock<Result<Bool, RuleLoadError>?>(nil)
        guard
            let thread = JoinableThread.start(
                stackSize: Self.stackSize,
                {
                    let loaded = Result { () throws(RuleLoadError) -> Bool in
                        try RuleEngine(options: options).servesWebhooks
                    }
                    result.withLock { $0 = loaded }
                    result.broadcast()
                })
        else {
            throw RuleLoadError("\(options.rulesPath): cannot start a thread to load the rules file")
        }
        let limit = options.limits.seconds
        let wait = limit * RuleWatchdog.factor + 1
        let loaded = result.withLock(whenReady: { $0 != nil }, timeout: limit > 0 ? wait : nil) { $0 }
        guard let loaded else {
            thread.detach()
            throw RuleLoadError(
                "\(options.rulesPath): loading the rules file ran for over \(formatSeconds(wait)), past "
                    + "\(Int(RuleWatchdog.factor))× the time limit of \(formatSeconds(limit)), inside a library "
                    + "function no limit can interrupt; change its top level")
        }
        thread.join()
        switch loaded {
        case .success(true): return
        case .success(false):
            throw RuleLoadError(RuleEngine.noWebhookEntryMessage(rulesPath: options.rulesPath))
        case .failure(let error): throw error
        }
    }

    /// Reads the rule's text once, so every worker loads exactly the version that was checked.
    static func snapshot(_ options: RuleOptions) throws(RuleLoadError) -> RuleOptions {
        var options = options
        do {
            options.source = try FileReader.read(options.rulesPath, limit: 16 << 20)
        } catch {
            throw RuleLoadError(
                "cannot read \(options.rulesPath): \(error.description); check the path of the rules file")
        }
        return options
    }

    /// Stops the workers once the queued requests are answered, and joins their threads.
    package func stop() {
        state.withLock { $0.stopping = true }
        state.broadcast()
        for thread in workers.withLock({ $0.values }) where !thread.isCurrent { thread.join() }
        workers.withLock { $0.removeAll() }
    }

    /// One worker: takes jobs and runs them on its own engine, watched by a `RuleWatchdog`. When
    /// the watchdog gives a call up, this thread is parked for good inside that call; the watchdog
    /// answers the job 500 and starts a new worker, which loads a new Lua state.
    private func work(name: String) {
        let running = RunningJob()
        var engine: RuleEngine?
        var watchdog: RuleWatchdog?
        var generation = -1
        defer { watchdog?.stop() }
        while true {
            let next = state.withLock(whenReady: { $0.head < $0.jobs.count || $0.stopping }) {
                state -> (job: Job, generation: Int, options: RuleOptions)? in
                guard state.head < state.jobs.count else { return nil }
                let job = state.jobs[state.head]
                state.head += 1
                if state.head > 1024 && state.head * 2 > state.jobs.count {
                    state.jobs.removeFirst(state.head)
                    state.head = 0
                }
                return (job, state.generation, state.options)
            }
            guard let (job, wanted, options) = next else { return }
            // A load that fails keeps the engine this worker had (none: tried again next request).
            if wanted != generation || engine == nil {
                if let fresh = try? RuleEngine(options: options) {
                    watchdog?.stop()
                    engine = fresh
                    watchdog = watch(fresh, running, worker: name)
                }
                generation = wanted
            }
            running.job.withLock { $0 = job }
            let outcome =
                engine?.handleWebhook(job.request)
                ?? .failed(message: "\(options.rulesPath): the rule could not be loaded", traceback: nil)
            if let warnings = engine?.takeRunWarnings(), !warnings.isEmpty {
                collectedWarnings.withLock { $0.merge(warnings) }
            }
            let dedupKey = engine?.dedupKey
            let trace = engine?.trace?.take() ?? []
            // Always there: the watchdog takes a job only from a call it gave up, which never returns.
            running.job.withLock { $0.take() }?.continuation.resume(
                returning: WebhookRun(outcome: outcome, dedupKey: dedupKey, trace: trace))
        }
    }

    /// A watchdog for `engine` (none without a time limit): a call stuck past 2× the limit answers
    /// its request 500 (kept for replay), is counted and reported, and a new worker takes over.
    private func watch(_ engine: RuleEngine, _ running: RunningJob, worker: String) -> RuleWatchdog? {
        let limit = engine.options.limits.seconds
        guard limit > 0 else { return nil }
        let stuck = StuckEngine(engine: engine)
        return RuleWatchdog(clock: engine.callClock, timeLimit: limit) { [self] seconds in
            let message = stuck.engine.overrunMessage(
                runningSeconds: seconds, consequence: "the request was kept and its worker replaced")
            let number = overruns.add(1, ordering: .relaxed).newValue
            workers.withLock { $0.removeValue(forKey: worker) }?.detach()
            startWorker(name: "rules-r\(number)")
            onOverrun(message)
            let trace = stuck.engine.trace.map { $0.entries + [RuleTrace.Entry(failure: message, traceback: nil)] }
            running.job.withLock { $0.take() }?.continuation.resume(
                returning: WebhookRun(
                    outcome: .failed(message: message, traceback: nil), dedupKey: nil, trace: trace ?? []))
        }
    }
}
