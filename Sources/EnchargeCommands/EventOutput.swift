import EnchargeKit
import EnchargeSpool
import SystemKit

/// Where a job's events go: stdout for a dry run, a spool (`run --spool`), else a delivery engine;
/// and, from then on, the job's SIGINT/SIGTERM handling, whose watcher drains the engine on an
/// interrupt. Shared by `run` and `replay`; the job calls `watcher.stop()` when it ends.
struct EventOutput {
    let sink: any EventSink
    let delivery: DeliveryEngine?
    let writer: JSONLinesEventWriter?
    let spooling: SpoolEventSink?
    let watcher: InterruptWatcher

    /// Nil (after saying why on stderr) when the delivery engine cannot start or the spool cannot be opened.
    init?(
        dryRun: Bool, delivery configuration: DeliveryConfiguration?, spool: SpoolOpening? = nil,
        deadLetters: DeadLetterWriter, context: DeadLetterContext, commandContext: CommandContext,
        drainTimeout: Double
    ) {
        if let spool, !dryRun {
            guard let spooling = Self.openSpool(spool, diagnostics: commandContext.diagnostics) else { return nil }
            (self.sink, self.delivery, self.writer, self.spooling) = (spooling, nil, nil, spooling)
        } else {
            guard
                let (sink, delivery, writer) = Self.open(
                    dryRun: dryRun, delivery: configuration, deadLetters: deadLetters, context: context,
                    commandContext: commandContext)
            else { return nil }
            (self.sink, self.delivery, self.writer, self.spooling) = (sink, delivery, writer, nil)
        }
        commandContext.interrupts.handleSignals()
        watcher = InterruptWatcher(interrupts: commandContext.interrupts, engine: delivery, drainTimeout: drainTimeout)
    }

    private static func openSpool(_ opening: SpoolOpening, diagnostics: DiagnosticsPrinter) -> SpoolEventSink? {
        guard let calls = SpoolCallThread() else {
            diagnostics.write("error: cannot start a thread to write the spool; the system refused a new thread")
            return nil
        }
        let opened = calls.wait { () async -> Result<OpenedSpool, SpoolError> in
            do throws(SpoolError) { return .success(try await opening.open()) } catch { return .failure(error) }
        }
        switch opened {
        case .success(let spool): return SpoolEventSink(spool: spool, calls: calls)
        case .failure(let error):
            calls.close()
            diagnostics.write("error: \(error)")
            return nil
        }
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
        guard var configuration else {
            diagnostics.write("error: no delivery configuration; use --dry-run to print events instead")
            return nil
        }
        // A file's events come as fast as the rule maps them, so one libcurl thread would be the
        // limit: they are sent from one thread per 8 requests in flight, one per core at most.
        configuration.senderThreads = DeliveryConfiguration.senderThreads(
            concurrency: configuration.concurrency, cores: AvailableProcessors.count)
        do {
            let engine = try DeliveryEngine(configuration: configuration, deadLetters: deadLetters, context: context)
            return (DeliverySink(engine: engine), engine, nil)
        } catch {
            diagnostics.write("error: \(error)")
            return nil
        }
    }
}
