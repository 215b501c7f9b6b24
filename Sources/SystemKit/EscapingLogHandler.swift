import Logging

/// A log handler that escapes control characters (newlines, terminal escapes, NUL) in the message
/// and every metadata value before another handler writes them, and caps each at 4 KB. Rule errors
/// and rejections quote what a webhook sender chose; this keeps such text from forging log lines.
package struct EscapingLogHandler: LogHandler {
    private var inner: any LogHandler

    /// Escapes what reaches `inner`.
    package init(wrapping inner: any LogHandler) {
        self.inner = inner
    }

    /// A `StreamLogHandler` on standard error behind the escaping, for `Logger(label:factory:)`.
    package static func standardError(label: String) -> EscapingLogHandler {
        EscapingLogHandler(wrapping: StreamLogHandler.standardError(label: label))
    }

    package var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    package var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    package var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    package func log(event: LogEvent) {
        var safe = event
        safe.message = "\(Self.clean(event.message.description))"
        safe.metadata = event.metadata?.mapValues(Self.clean)
        inner.log(event: safe)
    }

    static func clean(_ text: String) -> String {
        Diagnostics.capped(Diagnostics.escaped(text))
    }

    static func clean(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(clean(text))
        case .stringConvertible(let convertible): .string(clean(convertible.description))
        case .array(let values): .array(values.map(clean))
        case .dictionary(let values): .dictionary(values.mapValues(clean))
        }
    }
}
