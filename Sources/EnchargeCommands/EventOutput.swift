import EnchargeKit

/// Where a job's events go: stdout for a dry run, else a delivery engine; and, from then on, the
/// job's SIGINT/SIGTERM handling, whose watcher drains the engine on an interrupt. Shared by `run`
/// and `replay`; the job calls `watcher.stop()` when it ends.
struct EventOutput {
    let sink: any EventSink
    let delivery: DeliveryEngine?
    let writer: JSONLinesEventWriter?
    let watcher: InterruptWatcher

    /// Nil (after saying why on stderr) when the delivery engine cannot start.
    init?(
        dryRun: Bool, delivery configuration: DeliveryConfiguration?, deadLetters: DeadLetterWriter,
        context: DeadLetterContext, commandContext: CommandContext, drainTimeout: Double
    ) {
        guard
            let (sink, delivery, writer) = Self.open(
                dryRun: dryRun, delivery: configuration, deadLetters: deadLetters, context: context,
                commandContext: commandContext)
        else { return nil }
        (self.sink, self.delivery, self.writer) = (sink, delivery, writer)
        commandContext.interrupts.handleSignals()
        watcher = InterruptWatcher(interrupts: commandContext.interrupts, engine: delivery, drainTimeout: drainTimeout)
    }

    private static func open(
        dryRun: Bool, delivery configuration: DeliveryConfiguration?, deadLetters: DeadLetterWriter,
        context: DeadLetterContext, commandContext: CommandContext
    ) -> (any EventSink, DeliveryEngine?, JSONLinesEventWriter?)? {
        let diagnostics = commandContext.diagnostics
        if dryRun {
            let writer = JSONLinesEventWriter(writer: commandContext.stdout)
            return (writer, nil, writer)
        }
        guard let configuration else {
            diagnostics.write("error: no delivery configuration; use --dry-run to print events instead")
            return nil
        }
        do {
            let engine = try DeliveryEngine(configuration: configuration, deadLetters: deadLetters, context: context)
            return (DeliverySink(engine: engine), engine, nil)
        } catch {
            diagnostics.write("error: \(error)")
            return nil
        }
    }
}
