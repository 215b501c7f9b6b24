import Synchronization

/// How far `test` got: the fixtures passed and failed (with `--update`, updated and unchanged) out
/// of all it runs. The job counts on its thread; the watchdog thread that ends the process on a
/// stuck rule call reads it for the `stopped: ...` line.
final class TestJobTally: Sendable {
    /// What became of one fixture.
    enum Outcome {
        case passed, failed, updated, unchanged
    }

    private struct Counts {
        var passed = 0
        var failed = 0
        var updated = 0
        var unchanged = 0
    }

    private let counts = Mutex(Counts())
    /// The fixtures the job runs.
    private let total: Int
    /// `--update`: the job counts fixtures updated and unchanged.
    private let update: Bool

    init(total: Int, update: Bool) {
        self.total = total
        self.update = update
    }

    /// Counts one fixture.
    func count(_ outcome: Outcome) {
        counts.withLock { counts in
            switch outcome {
            case .passed: counts.passed += 1
            case .failed: counts.failed += 1
            case .updated: counts.updated += 1
            case .unchanged: counts.unchanged += 1
            }
        }
    }

    /// Whether any fixture failed.
    var anyFailed: Bool { counts.withLock { $0.failed > 0 } }

    /// The closing line: `4 passed, 1 failed`, or with `--update` `1 updated, 4 unchanged`.
    var summary: String {
        let counts = counts.withLock { $0 }
        return update
            ? "\(counts.updated) updated, \(counts.unchanged) unchanged"
            : "\(counts.passed) passed, \(counts.failed) failed"
    }

    /// The closing line when a fixture's rule call is stuck and the process ends after it, the
    /// stuck fixture counted as failed: `stopped: 1 passed, 1 failed, 3 not run` (with `--update`,
    /// as not written: `stopped: 1 updated, 0 unchanged, 4 not written`).
    var stopped: String {
        let counts = counts.withLock { $0 }
        if update {
            let notWritten = total - counts.updated - counts.unchanged
            return "stopped: \(counts.updated) updated, \(counts.unchanged) unchanged, \(notWritten) not written"
        }
        let notRun = total - counts.passed - counts.failed - 1
        return "stopped: \(counts.passed) passed, \(counts.failed + 1) failed, \(notRun) not run"
    }
}
