/// The signature schemes a webhook endpoint can require, named as rules and configuration spell them
/// (`webhook.verify("stripe", req, secret)`).
package enum WebhookScheme: String, Sendable, CaseIterable {
    /// `Stripe-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 of `"<t>.<body>"`, with a timestamp tolerance.
    case stripe
    /// `X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the body.
    case github
    /// `X-Shopify-Hmac-Sha256: <base64>`: HMAC-SHA256 of the body.
    case shopify
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ...`):
    /// HMAC-SHA256 of `"<id>.<timestamp>.<body>"` with a base64 `whsec_` key, with a timestamp tolerance.
    case standard
    /// A provider-neutral HMAC of the body in a header of your choice; see `HMACOptions`.
    case hmac
}
