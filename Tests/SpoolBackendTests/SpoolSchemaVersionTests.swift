import EnchargeSpool
import TestSupport
import Testing

/// A spool written by a newer encharge-lua is refused with one line, and nothing in it changes.
@Suite(.timeLimit(.minutes(1)))
struct SpoolSchemaVersionTests {
    @Test(arguments: SpoolBackends.all)
    func aSpoolFromANewerSchemaIsRefusedUntouched(backend: any SpoolBackendFactory) async throws {
        try await backend.withLocation { location in
            do {
                let spool = try await backend.open(location)
                _ = try await spool.accept(
                    requestID: "r", dedupKey: "k", events: [SpoolFixture.track("ann", seq: 1)], source: "t")
                await backend.close(spool)
            }
            try await backend.markWrittenByNewerVersion(location)
            let before = try await backend.fingerprint(location)
            let error = try #require(await #expect(throws: SpoolError.self) { try await backend.open(location) })
            #expect(error.kind == .open)
            #expect(error.message.contains("was written by a newer encharge-lua (schema "), "\(error)")
            #expect(error.message.contains(", this one knows "), "\(error)")
            #expect(error.message.hasSuffix("; upgrade encharge-lua to open it"), "\(error)")
            #expect(!error.description.contains("\n"))
            let after = try await backend.fingerprint(location)
            let firstChange = zip(before, after).first { $0 != $1 }.map { "\($0.0) became \($0.1)" }
            #expect(
                before.count == after.count && firstChange == nil,
                "the refused spool was changed: \(before.count) lines became \(after.count); \(firstChange ?? "")")
        }
    }
}
