import SystemKit

/// A thread of its own on which a synchronous job (`run --spool`, `deliver`) runs the spool's async
/// calls (opening, `accept`): the job's thread blocks waiting for them, and it may itself be a
/// thread of Swift's cooperative pool (an async `main`), so the calls must not need that pool, or
/// a machine with one core would wait forever. Tasks started here prefer this thread as their
/// executor, so they run on it, and so do the default actors they call.
final class SpoolCallThread: TaskExecutor, @unchecked Sendable {
    // Invariant: `queue` holds jobs enqueued and not yet run; only the thread started in init runs
    // them, and it ends once `close` was called and the queue is empty.
    private let queue = ConditionLock<(jobs: [UnownedJob], closed: Bool)>(([], false))
    private var thread: JoinableThread?

    /// Starts the thread; nil when the system refuses one.
    init?() {
        guard
            let thread = JoinableThread.start({ [queue] in
                while true {
                    let next = queue.withLock(whenReady: { !$0.jobs.isEmpty || $0.closed }) { state -> UnownedJob? in
                        state.jobs.isEmpty ? nil : state.jobs.removeFirst()
                    }
                    guard let next else { return }
                    next.runSynchronously(on: self.asUnownedTaskExecutor())
                }
            })
        else { return nil }
        self.thread = thread
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        queue.signal()
    }

    /// Starts `operation` on this thread and returns at once.
    func start(_ operation: sending @escaping @isolated(any) () async -> Void) {
        Task(executorPreference: self, operation: operation)
    }

    /// Runs `operation` on this thread and blocks the calling thread until it returns.
    func wait<Value: Sendable>(_ operation: sending @escaping () async -> Value) -> Value {
        let result = ConditionLock<Value?>(nil)
        Task(executorPreference: self) {
            let value = await operation()
            result.withLock { $0 = value }
            result.broadcast()
        }
        return result.withLock(whenReady: { $0 != nil }) { $0! }
    }

    /// Ends the thread once every job enqueued so far has run, and waits for it.
    func close() {
        queue.withLock { $0.closed = true }
        queue.broadcast()
        thread?.join()
        thread = nil
    }
}
