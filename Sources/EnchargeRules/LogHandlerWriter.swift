import SystemKit

/// An `OutputWriter` that hands each write to a closure: how `RuleOptions.logHandler` reaches
/// the engine, which writes through `RuleOptions.logWriter`.
struct LogHandlerWriter: OutputWriter {
    let handler: @Sendable (String) -> Void

    func write(_ text: String) { handler(text) }
}
