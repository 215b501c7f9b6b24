import Hummingbird
import NIOCore
import SystemKit

/// `mock-ingest --verbose`: one line per request on standard error, after it is answered:
/// `mock-ingest: POST /v1/ 200 (123 bytes)`. The method, path, status and the number of body
/// bytes read; never a header, so the write key cannot appear. The path is escaped, since a
/// client chooses it.
struct MockIngestRequestLog<Context: RequestContext>: RouterMiddleware {
    /// Where the lines go (standard error for `mock-ingest`).
    let errors: any OutputWriter

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let counter = MockIngestByteCounter()
        var counted = request
        counted.body = RequestBody(
            asyncSequence: request.body.map { buffer in
                counter.add(buffer.readableBytes)
                return buffer
            })
        let line = { (status: String) in
            Self.line(method: request.method.rawValue, path: request.uri.path, status: status, bytes: counter.total)
        }
        do {
            let response = try await next(counted, context)
            write(line(String(response.status.code)))
            return response
        } catch let error as any HTTPResponseError {
            write(line(String(error.status.code)))
            throw error
        } catch is MockIngestConnectionDropped {
            write(line("dropped"))
            throw MockIngestConnectionDropped()
        } catch {
            write(line("500"))
            throw error
        }
    }

    /// Writes `text` as one diagnostic line: control characters escaped, capped in length.
    private func write(_ text: String) {
        errors.writeDiagnosticLine(text)
    }

    static func line(method: String, path: String, status: String, bytes: Int) -> String {
        "mock-ingest: \(Diagnostics.escaped(method)) \(Diagnostics.escaped(path)) \(status) (\(bytes) bytes)"
    }
}
