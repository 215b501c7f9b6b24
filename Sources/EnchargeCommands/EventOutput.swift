import EnchargeKit

/// Where a job's events go: stdout for a dry run, else a delivery engine. Shared by `run` and
/// `replay`.
struct EventOutput {
    let sink: any EventSink
    let delivery: DeliveryEngine?
    let writer: JSONLinesEventWriter?

    /// Nil (after saying why on stderr) when the delivery engine cannot start.
    init?(
        dryRun: Bool, delivery configuration: DeliveryConfiguration?, deadLetters: DeadLetterWriter,
        context: DeadLetterContext, commandContext: CommandContext
    ) {
        let diagnostics = commandContext.diagnostics
        if dryRun {
            let writer = JSONLinesEventWriter(writer: commandContext.stdout)
            (sink, delivery, self.writer) = (writer, nil, writer)
            return
        }
        guard let configuration else {
            diagnostics.write("error: no delivery configuration; use --dry-run to print events instead")
            return nil
        }
        do {
            let engine = try DeliveryEngine(configuration: configuration, deadLetters: deadLetters, context: context)
            (sink, delivery, writer) = (DeliverySink(engine: engine), engine, nil)
        } catch {
            diagnostics.write("error: \(error)")
            return nil
        }
    }
}
