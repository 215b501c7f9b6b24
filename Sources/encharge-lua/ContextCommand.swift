import EnchargeCommands

/// A subcommand whose work runs against an injected `CommandContext`: the binary hands it the
/// process's (`EnchargeLua.main`), a test an in-memory one (`EnchargeLua.run(_:context:)`).
protocol ContextCommand {
    func run(context: CommandContext) async throws
}
