import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// Runs `application` on 127.0.0.1 with a free port inside a `ServiceGroup` (with the services it
/// declares) for the duration of `body`, handing `body` the bound port, then shuts it down
/// gracefully. This is for clients that are not Hummingbird's: libcurl, a raw socket, the
/// binary. The application's own address is ignored, and so is its `onServerRunning`.
public func withLiveApplication<App: ApplicationProtocol, Result: Sendable>(
    _ application: App, _ body: (_ port: Int) async throws -> Result
) async throws -> Result {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let live = LoopbackApplication(base: application, onPort: { continuation.yield($0) })
    let group = ServiceGroup(
        configuration: .init(services: [live] + application.services, logger: application.logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            // Ends the wait below if the server stops before it listens.
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await tasks.waitForAll()
            throw LiveApplicationError()
        }
        let result: Result
        do {
            result = try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return result
    }
}

/// The application stopped before it was listening.
public struct LiveApplicationError: Error, CustomStringConvertible {
    /// Says the server never listened.
    public var description: String { "the application stopped before it was listening" }
}

/// `base`, bound to 127.0.0.1 port 0, reporting the port it got.
struct LoopbackApplication<Base: ApplicationProtocol>: ApplicationProtocol {
    typealias Responder = Base.Responder

    let base: Base
    let onPort: @Sendable (Int) -> Void

    var responder: Base.Responder { get async throws { try await base.responder } }
    var server: HTTPServerBuilder { base.server }
    var eventLoopGroup: any EventLoopGroup { base.eventLoopGroup }
    var configuration: ApplicationConfiguration {
        var configuration = base.configuration
        configuration.address = .hostname("127.0.0.1", port: 0)
        return configuration
    }
    var logger: Logger { base.logger }
    var processesRunBeforeServerStart: [@Sendable () async throws -> Void] { base.processesRunBeforeServerStart }

    @Sendable func onServerRunning(_ channel: any Channel) async {
        onPort(channel.localAddress?.port ?? 0)
    }
}
