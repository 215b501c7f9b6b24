import EnchargeKit
import EnchargeRules
import JSONKit

/// The line after a run or replay that says where its dead letters went and what to do with them;
/// nil when nothing was kept (none written, or written to a non-file such as /dev/null). `rules` is
/// the rule a replay of record entries needs (nil: unknown, shown as `--rules RULES`). When the file
/// already held entries of earlier runs, the command names this run with `--run-id`, so pasting it
/// never sends an earlier run's entries again.
func deadLetterHint(_ deadLetters: DeadLetterWriter, dryRun: Bool, rules: RuleOptions?, again: Bool = false) -> String?
{
    let count = deadLetters.count
    guard count > 0, deadLetters.keepsEntries else { return nil }
    let entries = "\(count) entr\(count == 1 ? "y" : "ies")"
    let path = shellQuoted(deadLetters.path)
    if dryRun {
        return "\(entries) written to \(path) by this dry run, marked dry_run: what a real run would fail, not for "
            + "replay; fix the cause, then run again without --dry-run"
    }
    var command = "encharge-lua replay \(path)"
    if deadLetters.holdsEarlierEntries { command += " --run-id " + shellQuoted(deadLetters.context.runID) }
    var flags = ""
    if deadLetters.recordCount > 0 {
        command += " --rules " + (rules.map { shellQuoted($0.rulesPath) } ?? "RULES")
        if let rules, !rules.settings.isEmpty { flags = " with the same --set and --settings flags" }
    }
    let written = again ? "failed again, written to" : "written to"
    return "\(entries) \(written) \(path); fix the cause and run `\(command)`\(flags)"
}

/// Quotes `text` for a POSIX shell when it holds anything but plain path characters; a leading `-`
/// gets `./` (for a relative path) so the command does not read it as a flag.
func shellQuoted(_ text: String) -> String {
    let plain =
        !text.isEmpty
        && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-_./:=@%+,".unicodeScalars.contains(scalar))
        }
    let path = text.hasPrefix("-") ? "./" + text : text
    guard !plain else { return path }
    return "'" + path.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
