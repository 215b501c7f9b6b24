import SystemKit

extension RuleOptions {
    /// Where the rule's `log.*` and `print` lines and the engine's warnings about what a call
    /// decoded go, for an app that embeds the engine: each call gets one message, ending in a
    /// newline, with control characters other than newline and tab escaped. The default writes to standard error. It runs on the thread
    /// that called into the engine, during the call.
    public var logHandler: @Sendable (String) -> Void {
        get { { [logWriter] text in logWriter.write(text) } }
        set { logWriter = LogHandlerWriter(handler: newValue) }
    }
}
