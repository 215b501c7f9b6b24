/// The signature schemes a webhook endpoint can require, named as rules and configuration spell them
/// (`webhook.verify("stripe", req, secret)`).
public enum WebhookScheme: String, Sendable, CaseIterable {
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

/// How the generic `hmac` scheme reads its signature: which header, which hash, which text encoding,
/// and which literal prefix (such as `sha256=`) comes before the signature.
public struct HMACOptions: Sendable, Equatable {
    /// The hash under the HMAC.
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, sha1
    }

    /// How the MAC is written in the header.
    public enum Encoding: String, Sendable, CaseIterable {
        /// Hexadecimal digits, upper or lower case.
        case hex
        /// Standard base64 (`+/`), padding optional.
        case base64
    }

    /// The header carrying the signature; matched case-insensitively.
    public var header: String
    public var algorithm: Algorithm
    public var encoding: Encoding
    /// Text before the signature in the header value (`sha256=`), matched case-insensitively;
    /// empty when the value is the signature alone.
    public var prefix: String

    public init(
        header: String = "x-signature", algorithm: Algorithm = .sha256, encoding: Encoding = .hex,
        prefix: String = ""
    ) {
        self.header = header
        self.algorithm = algorithm
        self.encoding = encoding
        self.prefix = prefix
    }
}

/// Knobs of `WebhookVerifier.verify` that most callers leave alone.
public struct WebhookVerificationOptions: Sendable, Equatable {
    /// How far, in seconds and in either direction, a signed timestamp may be from `now` (Stripe and
    /// Standard Webhooks; both providers recommend 300). `.infinity` skips the check, for example when
    /// a stored request is replayed long after it was received.
    public var tolerance: Double
    /// The current time in seconds since 1970; `nil` reads the clock. Tests pin it.
    public var now: Double?
    /// Settings of the generic `hmac` scheme; the other schemes ignore them.
    public var hmac: HMACOptions

    public init(tolerance: Double = 300, now: Double? = nil, hmac: HMACOptions = HMACOptions()) {
        self.tolerance = tolerance
        self.now = now
        self.hmac = hmac
    }
}
