import CCurl
import SystemKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What one finished attempt means for its event.
enum AttemptVerdict: Equatable {
    case delivered
    /// Worth another attempt; `after` is the server's `Retry-After` in seconds, when it sent one.
    case retry(after: Double?, DeliveryError)
    /// Retrying cannot help.
    case terminal(DeliveryError)
    /// 401 or 403: the write key was refused; retrying cannot help, and enough of these in a row
    /// stop the engine (`DeliveryStop.writeKeyRefused`).
    case refused(status: Int, DeliveryError)
    /// A redirect the transport does not follow; it stops the engine (`DeliveryStop.redirected`).
    case redirected(DeliveryStop, DeliveryError)
}

/// Classifies attempts and spaces retries: 2xx delivers; connection errors, timeouts, 408, 425,
/// 429 and 5xx retry with exponential backoff and full jitter (or after `Retry-After`); 401 and 403
/// refuse the write key; a redirect that was not followed stops delivery; anything else is terminal.
struct RetryPolicy: Sendable {
    var maxAttempts: Int
    var backoffBase: Double
    var backoffCap: Double
    var maxRetryAfter: Double

    init(_ configuration: DeliveryConfiguration) {
        maxAttempts = configuration.maxAttempts
        backoffBase = configuration.backoffBase
        backoffCap = configuration.backoffCap
        maxRetryAfter = configuration.maxRetryAfter
    }

    static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 425 || status == 429 || (500...599).contains(status)
    }

    /// libcurl results that no retry can fix: the request cannot be built or the server cannot be trusted.
    static func isTerminal(curlCode code: CURLcode) -> Bool {
        switch code {
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_BAD_FUNCTION_ARGUMENT,
            CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_TOO_MANY_REDIRECTS:
            true
        default:
            false
        }
    }

    /// What to do after `outcome`. `now` (epoch seconds) dates a Retry-After given as an HTTP-date;
    /// nil reads the wall clock, and only when there is such a date to read.
    func verdict(for outcome: IngestAttempt.Outcome, now: time_t? = nil) -> AttemptVerdict {
        switch outcome {
        case .response(let status, let retryAfter, let body):
            if (200...299).contains(status) { return .delivered }
            if status == 401 || status == 403 {
                let stop = DeliveryStop.writeKeyRefused(status: status)
                return .refused(
                    status: status,
                    DeliveryError(kind: .writeKeyRefused, message: stop.description, status: status, body: body))
            }
            if Self.isRetryable(status: status) {
                // The wall clock is read only for a Retry-After to parse, not for every answer.
                let after = retryAfter.flatMap {
                    Self.retryAfterSeconds($0, now: now ?? time_t(SystemClock.wallSeconds()))
                }
                .map { min($0, maxRetryAfter) }
                return .retry(
                    after: after, DeliveryError(kind: .exhausted, message: "HTTP \(status)", status: status, body: body)
                )
            }
            return .terminal(
                DeliveryError(
                    kind: .rejected, message: "HTTP \(status): the Ingest API rejected the event", status: status,
                    body: body))
        case .redirect(let status, let location):
            let stop = DeliveryStop.redirected(status: status, location: location)
            return .redirected(stop, DeliveryError(kind: .redirected, message: stop.description, status: status))
        case .failure(let code, let message):
            if Self.isTerminal(curlCode: code) {
                return .terminal(DeliveryError(kind: .transport, message: "request failed: \(message)"))
            }
            return .retry(after: nil, DeliveryError(kind: .exhausted, message: message))
        }
    }

    /// Seconds to wait before the next attempt after `failures` failed ones (1 or more): uniform in
    /// 0...min(cap, base * 2^(failures-1)) ("full jitter"), unless the server asked for a delay.
    func delay(afterFailures failures: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return max(0, retryAfter) }
        let exponent = Double(min(max(failures - 1, 0), 62))
        let ceiling = min(backoffCap, backoffBase * pow(2, exponent))
        guard ceiling > 0 else { return 0 }
        return Double.random(in: 0...ceiling)
    }

    /// A `Retry-After` value in seconds from now: delta-seconds (`120`) or an HTTP-date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`, and the obsolete forms libcurl's parser knows). Nil when unreadable.
    static func retryAfterSeconds(_ text: String, now: time_t) -> Double? {
        let trimmed = String(text.trimming(.all))
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return trimmed.utf8.count > 9 ? 1e9 : Double(trimmed)
        }
        let date = curl_getdate(trimmed, nil)
        guard date != -1 else { return nil }
        return max(0, Double(date - now))
    }
}
