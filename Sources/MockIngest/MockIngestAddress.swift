/// Where a running mock Ingest API can be reached.
public struct MockIngestAddress: Sendable, Hashable {
    /// The host the server was asked to bind.
    public let host: String
    /// The port it is bound to (the real one when the configuration asked for port 0).
    public let port: Int

    /// The address `host`:`port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `http://HOST:PORT`, with an IPv6 host in brackets.
    public var baseURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)"
    }

    /// The ingest endpoint, `http://HOST:PORT/v1/`, to give a client as its Ingest URL.
    public var ingestURL: String { baseURL + "/v1/" }
}
