import Foundation

/// A minimal HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length bodies) that answers each
/// request by `route(path)`: a redirect or 200. It records every request, so a test can see where
/// the binary sent what; for redirects, which `mock-ingest` does not answer with.
final class RedirectingIngestServer: @unchecked Sendable {
    // Invariant: `requests` is only touched under `lock`; `listener` is closed once, by `stop`.
    struct Request {
        var path: String
        var host: String?
        var token: String?
        var body: String
    }

    /// How to answer a path: a status with a `Location`, or nil for 200.
    typealias Route = @Sendable (_ path: String, _ port: Int) -> (status: Int, location: String)?

    private let lock = NSLock()
    private var requests: [Request] = []
    private let listener: Int32
    let port: Int
    private let route: Route

    init(route: @escaping Route) throws {
        self.route = route
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard listener >= 0, bound == 0, listen(listener, 64) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot listen on 127.0.0.1"])
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var endpoint: String { "http://127.0.0.1:\(port)/v1/" }

    var received: [Request] { lock.withLock { requests } }

    /// Stops accepting (connections already open end when the client closes them).
    func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // Read until the header block is complete.
            var headerEnd: Int?
            while headerEnd == nil {
                if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
                    headerEnd = range.upperBound
                    break
                }
                let n = read(connection, &chunk, chunk.count)
                guard n > 0 else { return }
                buffer += chunk[..<n]
            }
            let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < headerEnd! + length {
                let n = read(connection, &chunk, chunk.count)
                guard n > 0 else { return }
                buffer += chunk[..<n]
            }
            let body = String(decoding: buffer[headerEnd!..<(headerEnd! + length)], as: UTF8.self)
            buffer.removeFirst(headerEnd! + length)
            lock.withLock {
                requests.append(Request(path: path, host: headers["host"], token: headers["x-encharge-token"], body: body))
            }
            let response: String
            if let (status, location) = route(path, port) {
                response = "HTTP/1.1 \(status) Redirect\r\nLocation: \(location)\r\nContent-Length: 0\r\n\r\n"
            } else {
                response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"success\":true}"
            }
            let bytes = Array(response.utf8)
            guard bytes.withUnsafeBytes({ write(connection, $0.baseAddress, $0.count) }) == bytes.count else { return }
        }
    }
}
