import EnchargeKit

/// What one call of a rule did, in order, for `--trace`: each event it emitted, each `log.*` or
/// `print` line, a skip, an error, each with the rule line that did it.
///
/// A `RuleEngine` records into its `trace` while one is set (`engine.trace = RuleTrace()`), and
/// a caller takes the entries of each call with `engine.trace!.take()`; with no trace set the
/// engine records nothing. `TraceBlock` renders the entries for people.
package struct RuleTrace: Sendable {
    /// One step of a rule call.
    package struct Entry: Sendable, Equatable {
        /// `rules.lua:12`: the line of the rule that did it, as Lua names it; nil when no rule
        /// line is known (an input that is not a record, a budget exceeded in a C function).
        package var ruleLine: String?
        package var kind: Kind

        package init(ruleLine: String?, kind: Kind) {
            self.ruleLine = ruleLine
            self.kind = kind
        }

        /// The error entry for a failure message; a Lua position that starts it
        /// (`rules.lua:14: track: ...`) becomes the rule line and leaves the message.
        package init(failure message: String, traceback: String?) {
            if let (position, rest) = RulePosition.split(message[...]) {
                self.init(ruleLine: String(position), kind: .error(message: String(rest), traceback: traceback))
            } else {
                self.init(ruleLine: nil, kind: .error(message: message, traceback: traceback))
            }
        }
    }

    /// What a step was.
    package enum Kind: Sendable, Equatable {
        /// An event emitted (validated) by `encharge.identify`, `track` or `event`.
        case event(Event)
        /// A `log.*` line (`print` is `info`) at or above the rule's log level; the message is
        /// escaped and capped as the log line would be.
        case log(LogLevel, String)
        /// `encharge.skip(reason)`.
        case skip(String)
        /// The call failed: the message (without its rule line) and the Lua traceback, if any.
        case error(message: String, traceback: String?)
    }

    /// The entries recorded since the last `take()`, in the order they happened.
    package private(set) var entries: [Entry] = []

    package init() {}

    mutating func append(_ entry: Entry) { entries.append(entry) }

    /// Returns the entries recorded so far and starts afresh, for the next record or request.
    package mutating func take() -> [Entry] {
        defer { entries.removeAll(keepingCapacity: true) }
        return entries
    }
}
