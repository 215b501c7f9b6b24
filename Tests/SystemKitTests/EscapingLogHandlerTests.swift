import Foundation
import Logging
import SystemKit
import Testing

/// What a sender chose cannot forge a line of the server logs.
@Suite struct EscapingLogHandlerTests {
    /// Keeps the events it is handed, for inspection.
    final class CapturedEvents: @unchecked Sendable {
        // Invariant: `events` is only touched under `lock`.
        private let lock = NSLock()
        private var stored: [LogEvent] = []
        func append(_ event: LogEvent) { lock.lock(); stored.append(event); lock.unlock() }
        var events: [LogEvent] { lock.lock(); defer { lock.unlock() }; return stored }
    }

    struct CapturingHandler: LogHandler {
        let captured: CapturedEvents
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { captured.append(event) }
    }

    @Test func messagesAndMetadataAreEscaped() throws {
        let captured = CapturedEvents()
        let logger = Logger(label: "t") { _ in EscapingLogHandler(wrapping: CapturingHandler(captured: captured)) }
        logger.error("rule error: bad x\nforged\u{1B}[2J", metadata: ["error": "a\nb\0", "list": ["\u{1B}"]])
        let event = try #require(captured.events.first)
        #expect(event.message.description == #"rule error: bad x\nforged\u001b[2J"#)
        #expect(event.metadata?["error"] == .string(#"a\nb\0"#))
        #expect(event.metadata?["list"] == .array([.string(#"\u001b"#)]))
    }
}
