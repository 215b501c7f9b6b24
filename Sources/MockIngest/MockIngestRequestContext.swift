import Hummingbird
import NIOCore

/// The request context of the mock: Hummingbird's basics plus the connection, so that
/// `--drop-rate` can close it without answering.
package struct MockIngestRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    package var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    package let channel: any Channel

    /// The context of a request arriving from `source`.
    package init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}
