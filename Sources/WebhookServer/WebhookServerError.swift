/// Why `serve` could not start: one sentence (printed after `error: `).
package struct WebhookServerError: Error, CustomStringConvertible {
    package var description: String
}
