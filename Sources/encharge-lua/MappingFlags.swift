import ArgumentParser
import SystemKit

/// How many Lua states map records at once (`run` and `replay`).
struct MappingFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Lua states mapping records at once, each on its own thread and each loading the rule (default: the number of cores this process may use). The output is that of --jobs 1, in input order. Use --jobs 1 for a rule that keeps state across records in globals; --trace maps on one.",
            valueName: "n"))
    var jobs: Int?

    func validate() throws {
        if let jobs { try FlagChecks.integer(jobs, "--jobs", 1...1024) }
    }

    /// `--jobs`, else one per processor this process may run on.
    var count: Int { jobs ?? AvailableProcessors.count }
}
