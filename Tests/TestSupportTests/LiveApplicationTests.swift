import Hummingbird
import TestSupport
import Testing

/// `withLiveApplication` serves any Hummingbird application on a loopback port for a closure only.
@Suite struct LiveApplicationTests {
    @Test func anApplicationIsServedOnItsPortUntilTheClosureReturns() async throws {
        let router = Router()
        router.get("/hello") { _, _ in "hi" }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 1)))
        let port = try await withLiveApplication(app) { port in
            let reply = try await onThread { try RawHTTPConnection.send(port: port, method: "GET", path: "/hello") }
            #expect(reply.status == 200 && reply.text == "hi")
            return port
        }
        #expect(port > 1, "the application's own address is replaced by a free port")
        await #expect(throws: RawHTTPConnection.Failure.self) {
            try await onThread { try RawHTTPConnection.send(port: port, method: "GET", path: "/hello") }
        }
    }
}
