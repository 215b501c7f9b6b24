import SystemKit
import WebhookServer

/// An output writer that redacts secrets from what it passes on: `test` writes each fixture's rule
/// log lines through one, so a rule that logs a signing secret or a signature shows `[redacted]`.
struct RedactingOutputWriter: OutputWriter {
    let base: any OutputWriter
    let redaction: CredentialRedaction

    func write(_ text: String) { base.write(redaction.redact(text)) }
}
