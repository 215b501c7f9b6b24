/// Why `serve` could not start: one sentence (printed after `error: `).
package struct WebhookServerError: Error, CustomStringConvertible {
    /// The sentence.
    package var description: String
}
