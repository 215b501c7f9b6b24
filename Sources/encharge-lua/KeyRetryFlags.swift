import ArgumentParser

/// `--key-retry-interval`, shared by the commands that deliver a spool (`serve`, `deliver`).
struct KeyRetryFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "While the Ingest API refuses the write key (401/403), seconds between attempts.", valueName: "seconds"))
    var keyRetryInterval = 30.0

    func validate() throws {
        guard keyRetryInterval.isFinite, keyRetryInterval >= 0 else {
            throw ValidationError("--key-retry-interval takes a number of seconds, 0 or more")
        }
    }
}
