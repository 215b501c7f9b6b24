import EnchargeKit
import HTTPTypes
import Hummingbird
import JSONKit
import Logging
import NIOCore
import SystemKit

/// `POST /v1/`: fault injection first, then the checks of the Ingest contract in the order a
/// client would fix them (token, content type, size, JSON, event).
///
/// By default only what the Ingest API documentation states is enforced (`MockIngestContract`),
/// and the body is recorded byte for byte as received; with `strict`, the tool's own
/// `Event(validating:)` runs too, so a test can tell the API's rules from the tool's.
struct MockIngestEndpoint: Sendable {
    let writeKey: [UInt8]?
    let strict: Bool
    let latency: Duration
    let maxBodyBytes: Int
    let rateLimit: Int?
    let faults: MockIngestFaultInjector
    let recorder: MockIngestRecorder?

    init(configuration: MockIngestConfiguration, recorder: MockIngestRecorder?) {
        writeKey = configuration.writeKey.map { Array($0.utf8) }
        strict = configuration.strict
        latency = configuration.latency
        maxBodyBytes = configuration.maxBodyBytes
        rateLimit = configuration.rateLimit
        faults = MockIngestFaultInjector(
            dropRate: configuration.dropRate, failRate: configuration.failRate,
            rateLimit: configuration.rateLimit, seed: configuration.seed)
        self.recorder = recorder
    }

    static let tokenField = HTTPField.Name("X-Encharge-Token")!

    @Sendable func ingest(_ request: Request, context: MockIngestRequestContext) async throws -> Response {
        let fault = faults.decide()
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        switch fault {
        case .none:
            break
        case .rateLimited:
            throw MockIngestRejection(
                .tooManyRequests, "rate limit of \(rateLimit ?? 0) requests per second exceeded",
                headers: [.retryAfter: "1"])
        case .fail:
            throw MockIngestRejection(.internalServerError, "injected failure (--fail-rate)")
        case .drop:
            // Read the body first: closing a socket with unread input sends a reset, and the point
            // is a clean close with no answer (curl: "Empty reply from server").
            _ = try? await request.body.collect(upTo: maxBodyBytes)
            try? await context.channel.close()
            throw MockIngestConnectionDropped()
        }

        // The API requires the token on every request; without --write-key any value is accepted.
        guard let token = request.headers[Self.tokenField], !token.isEmpty else {
            throw MockIngestRejection(.unauthorized, "missing X-Encharge-Token header")
        }
        if let writeKey, !ConstantTime.equals(Array(token.utf8), writeKey) {
            throw MockIngestRejection(.unauthorized, "invalid X-Encharge-Token")
        }
        guard Self.isJSONContentType(request.headers[.contentType]) else {
            throw MockIngestRejection(.unsupportedMediaType, "Content-Type must be application/json")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw MockIngestRejection(.contentTooLarge, "request body is larger than \(maxBodyBytes) bytes")
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: body.readableBytesView)
        } catch {
            throw MockIngestRejection(.badRequest, error.description)
        }
        if let violation = MockIngestContract.violation(in: json) {
            throw MockIngestRejection(.badRequest, violation)
        }
        if strict {
            do {
                _ = try Event(validating: json)
            } catch {
                throw MockIngestRejection(.badRequest, error.description)
            }
        }
        if let recorder {
            do {
                try recorder.append(Array(body.readableBytesView))
            } catch {
                context.logger.error("\(error.description)")
                throw MockIngestRejection(.internalServerError, "could not record the event")
            }
        }
        return Response.json(.ok, ["success": true])
    }

    /// `application/json`, with any parameters (`; charset=utf-8`), in any letter case.
    static func isJSONContentType(_ value: String?) -> Bool {
        guard let value else { return false }
        let mediaType = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimming(.spacesAndTabs).lowercased() == "application/json"
    }

    /// Any other method on `/v1/`: the API takes only POST.
    @Sendable func wrongMethod(_ request: Request, context: MockIngestRequestContext) async throws -> Response {
        throw MockIngestRejection(.methodNotAllowed, "the Ingest API takes POST", headers: [.allow: "POST"])
    }
}
