import EnchargeRules
import LuaKit
import Synchronization
import SystemKit

/// The threads of `run --jobs N`: each loads the rule into an engine of its own (its own budgets,
/// watchdog, settings and fixed clock) and maps the chunks queued to it, first come first served.
/// The thread that reads queues the chunks and merges them back in input order.
final class MappingWorkers: Sendable {
    fileprivate struct Queue {
        var chunks: [MappingChunk] = []
        var closed = false
        /// The first load error of a worker's engine, compiler style.
        var loadError: String?
        var loaded = 0
        /// Workers that returned, and workers whose call a watchdog gave up (they never return).
        var ended = 0
        var givenUp: Set<Int> = []
        var finished = false
    }

    private let queue = ConditionLock(Queue())
    private let cancelled = Cancellation()
    private let threads: [JoinableThread]

    /// Starts `count` workers for `options` and waits until each has loaded the rule; nil (after
    /// writing why to `diagnostics`) when one could not. `job` names the job in a watchdog's message.
    init?(count: Int, options: RuleOptions, job: String, diagnostics: DiagnosticsPrinter) {
        var threads: [JoinableThread] = []
        for worker in 0..<count {
            let (queue, cancelled) = (queue, cancelled)
            guard
                let thread = JoinableThread.start(
                    stackSize: Self.stackSize,
                    {
                        Self.work(worker, options: options, job: job, queue: queue, cancelled: cancelled)
                        queue.withLock { $0.ended += 1 }
                        queue.broadcast()
                    })
            else { break }
            threads.append(thread)
        }
        self.threads = threads
        let loadError = queue.withLock(whenReady: { $0.loaded == threads.count || $0.loadError != nil }) {
            $0.loadError
        }
        guard threads.count == count, loadError == nil else {
            diagnostics.write(
                loadError.map { "error: \($0)" }
                    ?? "error: the system refused a thread for --jobs \(count); pass a smaller --jobs")
            finish()
            return nil
        }
    }

    /// Lua's parser and `string` functions recurse in C; the stack `serve`'s rule pool gives its
    /// threads too.
    static let stackSize = 8 << 20

    /// How many workers map.
    var count: Int { threads.count }

    /// Hands `chunk` to the next free worker.
    func map(_ chunk: MappingChunk) {
        queue.withLock { $0.chunks.append(chunk) }
        queue.signal()
    }

    /// Drops what is queued, stops the workers after their current record and waits for them,
    /// except for a worker whose call a watchdog gave up: stuck in C, it is left to the process's end.
    /// Calling it again does nothing.
    func finish() {
        cancelled.cancel()
        let already = queue.withLock { queue in
            defer { (queue.closed, queue.finished) = (true, true) }
            return queue.finished
        }
        guard !already else { return }
        queue.broadcast()
        let givenUp = queue.withLock(whenReady: { $0.ended + $0.givenUp.count == threads.count }) { $0.givenUp }
        for (worker, thread) in threads.enumerated() {
            if givenUp.contains(worker) { thread.detach() } else { thread.join() }
        }
    }

    private static func work(
        _ worker: Int, options: RuleOptions, job: String, queue: ConditionLock<Queue>, cancelled: Cancellation
    ) {
        let log = RecordLogBuffer()
        let engine: RuleEngine
        do {
            engine = try RuleEngine(options: options.logging(to: log))
        } catch {
            queue.withLock { $0.loadError = $0.loadError ?? error.description }
            queue.broadcast()
            return
        }
        // What the top level wrote while loading was printed once, by the engine the job loaded first.
        _ = log.take()
        queue.withLock { $0.loaded += 1 }
        queue.broadcast()
        let current = ConditionLock<MappingChunk?>(nil)
        let stuck = StuckCallReporter(engine: engine, worker: worker, job: job, current: current, queue: queue)
        let watchdog = RuleWatchdog(clock: engine.callClock, timeLimit: options.limits.seconds) { seconds in
            stuck.report(runningSeconds: seconds)
        }
        defer { watchdog.stop() }
        while true {
            let chunk: MappingChunk? = queue.withLock(whenReady: { !$0.chunks.isEmpty || $0.closed }) {
                $0.closed ? nil : $0.chunks.removeFirst()
            }
            guard let chunk else { return }
            current.withLock { $0 = chunk }
            chunk.map(on: engine, log: log) { cancelled.isCancelled }
            current.withLock { $0 = nil }
        }
    }
}

/// Set once by `finish`, read by every worker before each record: an atomic flag, so the workers
/// do not take turns at a lock shared between them once per record.
private final class Cancellation: Sendable {
    private let flag = Atomic(false)

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    func cancel() { flag.store(true, ordering: .relaxed) }
}

/// What a worker's watchdog needs once it gave a call up: the engine, for the rule line of the
/// message, and the chunk being mapped, to hand the message to the thread that merges.
private struct StuckCallReporter: @unchecked Sendable {
    // Invariant: `engine` is read by the watchdog thread only after `LuaCallClock.abandon`
    // succeeded, when the worker thread can no longer touch it (it parks when the call returns).
    let engine: RuleEngine
    let worker: Int
    let job: String
    let current: ConditionLock<MappingChunk?>
    let queue: ConditionLock<MappingWorkers.Queue>

    func report(runningSeconds: Double) {
        let message = engine.overrunMessage(runningSeconds: runningSeconds, job: job)
        queue.withLock { _ = $0.givenUp.insert(worker) }
        queue.broadcast()
        current.withLock { $0 }?.abandon(message: message)
    }
}
