/// How a command ends, as its exit code (README "Exit codes"); every job returns one.
package enum ExitStatus: Int32, Sendable, Equatable {
    /// Everything mapped and delivered (or re-queued).
    case success = 0
    /// Some records or entries failed, or events were dead-lettered.
    case someFailed = 1
    /// A usage, configuration, input or rule-load error, or the Ingest API refused the write key
    /// or redirects elsewhere.
    case usage = 2
    /// SIGINT or SIGTERM stopped the job.
    case interrupted = 130
}
