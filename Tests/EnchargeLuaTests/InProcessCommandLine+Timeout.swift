import EnchargeCommands

/// A run with a time limit, for tests of something that used to hang.
extension InProcessCommandLine {
    /// Runs `encharge-lua ARGUMENTS`; a run still going after `timeout` is interrupted as Ctrl-C
    /// interrupts the binary, so the test fails (`timedOut`) instead of hanging the suite.
    func run(_ arguments: [String], timeout: Duration) async -> (result: Result, timedOut: Bool) {
        let deadline = Task { [interrupts] in
            try await Task.sleep(for: timeout)
            interrupts.interrupt()
        }
        let result = await run(arguments)
        deadline.cancel()
        let timedOut = (try? await deadline.value) != nil
        return (result, timedOut)
    }
}
