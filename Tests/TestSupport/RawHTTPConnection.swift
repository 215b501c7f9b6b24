import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `send(2)` with `MSG_NOSIGNAL`: a peer that closed early is an error result, not SIGPIPE.
private func sendWithoutSIGPIPE(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
}

/// A parsed HTTP/1.1 response.
public struct HTTPReply: CustomStringConvertible, Sendable {
    /// The status code of the status line.
    public var status: Int
    /// Header names lower-cased (the last of repeated names wins).
    public var headers: [String: String]
    /// The body, de-chunked when the response was chunked.
    public var body: [UInt8]
    /// The status line and header lines exactly as received, without the blank line.
    public var head: String

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object, when it is one.
    public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    /// Status, headers and body, for failure messages.
    public var description: String { "\(status) \(headers) \(text)" }
}

/// A raw HTTP/1.1 connection to 127.0.0.1 over a plain TCP socket, for the byte-exact cases no
/// HTTP client library will send: malformed requests, oversized or slow headers, a chunked or
/// non-UTF-8 body, an exact `Content-Length`, several requests on one keep-alive connection.
/// Nothing is retried behind the test's back. Calls block: use it from a thread of its own or
/// from synchronous tests, never while the server under test needs the caller's thread.
public final class RawHTTPConnection {
    /// Why a connection or exchange failed.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, with the errno text where there is one.
        public var description: String
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private let timeout: Int

    /// Connects to `127.0.0.1:port`; every send and receive times out after `timeout` seconds.
    public init(port: Int, timeout: Int = 15) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        self.timeout = timeout
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "connect to port \(port): \(reason)")
        }
    }

    deinit { close(fd) }

    /// Sends `bytes`; false once the server closed the connection (it may answer, e.g. 413, and
    /// close before reading everything: the answer can still be read).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { sendWithoutSIGPIPE(fd, $0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Sends `text` as UTF-8; false once the server closed the connection.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Array(text.utf8)) }

    /// Whether the server closed the connection (looks at what is there without waiting).
    public var isClosedByServer: Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Reads one response by its own framing (`Content-Length` or chunked; else up to the close),
    /// leaving any bytes after it for the next call, so a response that lies about its length
    /// shows up in the next one.
    public func readResponse() throws -> HTTPReply {
        while true {
            if let (reply, used) = Self.parse(buffer, complete: false) {
                buffer.removeFirst(used)
                return reply
            }
            guard try fill() else {
                guard let (reply, used) = Self.parse(buffer, complete: true) else {
                    throw Failure(description: "not an HTTP response: \(String(decoding: buffer, as: UTF8.self))")
                }
                buffer.removeFirst(used)
                return reply
            }
        }
    }

    /// Reads until the server closes the connection and returns every byte not yet read.
    public func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Reads more bytes into the buffer; false when the server closed the connection.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[..<n]
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw Failure(description: "no answer within \(timeout) s (got \(buffer.count) bytes)")
            }
            // A reset after the server answered and closed: what arrived is still the answer.
            if !buffer.isEmpty { return false }
            throw Failure(description: "recv: \(String(cString: strerror(errno)))")
        }
    }

    /// Sends one request on a fresh connection with `Connection: close` and reads its response:
    /// the test controls the bytes (`chunked` sends the body in 256-byte chunks).
    public static func send(
        port: Int, method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
        chunked: Bool = false, timeout: Int = 15
    ) throws -> HTTPReply {
        let connection = try RawHTTPConnection(port: port, timeout: timeout)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var request = [UInt8]()
        if chunked {
            head += "Transfer-Encoding: chunked\r\n\r\n"
            request = Array(head.utf8)
            var offset = 0
            while offset < body.count {
                let piece = body[offset..<min(body.count, offset + 256)]
                request += Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Array("\r\n".utf8)
                offset += piece.count
            }
            request += Array("0\r\n\r\n".utf8)
        } else {
            if !body.isEmpty || method != "GET" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            request = Array(head.utf8) + body
        }
        connection.write(request)
        do {
            return try connection.readResponse()
        } catch let failure as Failure {
            throw Failure(description: "\(method) \(path): \(failure.description)")
        }
    }

    /// A JSON POST on a fresh connection; a plain function of the port so several threads can
    /// send at once.
    public static func postJSON(
        port: Int, _ path: String, _ json: String, headers: [(String, String)] = [], timeout: Int = 15
    ) throws -> HTTPReply {
        try send(
            port: port, method: "POST", path: path, headers: [("Content-Type", "application/json")] + headers,
            body: Array(json.utf8), timeout: timeout)
    }

    /// The first response in `bytes` and how many bytes it took, or nil while it is incomplete
    /// (`complete`: the peer closed, so a body without a length ends here).
    public static func parse(_ bytes: [UInt8], complete: Bool) -> (HTTPReply, Int)? {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let start = end.upperBound
        func reply(_ body: [UInt8]) -> HTTPReply { HTTPReply(status: status, headers: headers, body: body, head: head) }
        if let length = headers["content-length"].flatMap(Int.init) {
            guard bytes.count - start >= length else {
                return complete ? (reply(Array(bytes[start...])), bytes.count) : nil
            }
            return (reply(Array(bytes[start..<(start + length)])), start + length)
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var body = [UInt8]()
            var index = start
            while true {
                guard let lineEnd = bytes[index...].firstRange(of: [13, 10])?.lowerBound,
                    let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16)
                else { return complete ? (reply(body), bytes.count) : nil }
                if size == 0 {
                    // The last chunk, then (no trailers) the final CRLF.
                    let used = min(bytes.count, lineEnd + 4)
                    return (reply(body), used)
                }
                guard lineEnd + 2 + size <= bytes.count else { return complete ? (reply(body), bytes.count) : nil }
                body += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
                index = lineEnd + 2 + size + 2
                guard index <= bytes.count else { return complete ? (reply(body), bytes.count) : nil }
            }
        }
        if status == 204 || status == 304 || (100..<200).contains(status) { return (reply([]), start) }
        return complete ? (reply(Array(bytes[start...])), bytes.count) : nil
    }
}
