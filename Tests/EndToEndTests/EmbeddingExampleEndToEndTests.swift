import Foundation
import TestSupport
import Testing

/// examples/swift-embedding, built with the package as `encharge-embedding-example`: a program of its
/// own that embeds the rule engine and the delivery engine, so it runs as a process, delivering to a
/// `mock-ingest` process over loopback HTTP.
@Suite(.serialized) struct EmbeddingExampleEndToEndTests {
    static let key = "embedding-example-key-7d2e"
    static let example = Binary.besideBinary("encharge-embedding-example")
    static let rulesPath = Binary.packageRoot + "/examples/swift-embedding/rules.lua"

    @Test(.timeLimit(.minutes(2)))
    func mapsTheSampleRecordAndMockIngestReceivesExactlyItsEvents() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key, "--strict"], in: tmp)
        defer { mock.stop() }
        let result = try Binary.run(
            ["--endpoint", mock.endpoint], environment: ["ENCHARGE_WRITE_KEY": Self.key], timeout: 60,
            executable: Self.example)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == """
                {"name":"identify","user":{"email":"ada@example.com","firstName":"Ada","plan":"pro"}}
                {"name":"Signed up","user":{"email":"ada@example.com"},"properties":{"app":"swift-embedding","appVersion":"1.0.0","plan":"pro"}}

                """)
        #expect(
            result.stderr == """
                rule: example record: info: mapped sign-up of ada@example.com (\(Self.rulesPath):14)
                delivered 2 events to \(mock.endpoint)

                """)
        // The record file holds each accepted body byte for byte, in arrival order.
        #expect(try String(contentsOfFile: mock.recordPath, encoding: .utf8) == result.stdout)
        let readme = try String(
            contentsOfFile: Binary.packageRoot + "/examples/swift-embedding/README.md", encoding: .utf8)
        #expect(readme.contains("```\n" + result.stdout + "```\n"), "the example's README quotes what it prints")
    }

    @Test(.timeLimit(.minutes(2)))
    func aRefusedWriteKeyFailsWithWhatToCheckAndNeverShowsTheKey() throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try MockIngestProcess(["--write-key", Self.key], in: tmp)
        defer { mock.stop() }
        let wrongKey = "wrong-example-key-41ab"
        let result = try Binary.run(
            ["--endpoint", mock.endpoint], environment: ["ENCHARGE_WRITE_KEY": wrongKey], timeout: 60,
            executable: Self.example)
        #expect(result.status == 1)
        #expect(
            result.stderr.hasSuffix(
                "encharge-embedding-example: event 1 (identify) was not delivered to \(mock.endpoint): the Ingest API"
                    + #" refused the write key (HTTP 401): {"error":{"message":"invalid X-Encharge-Token"}};"#
                    + " check ENCHARGE_WRITE_KEY\n"),
            "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains(wrongKey))
        #expect(mock.received().isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func aRecordTheRuleSkipsFailsBeforeAnythingIsSent() throws {
        let result = try Binary.run(
            ["--endpoint", "http://127.0.0.1:9/v1/", "--record", #"{"first_name": "Ada"}"#],
            environment: ["ENCHARGE_WRITE_KEY": Self.key], timeout: 30, executable: Self.example)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "encharge-embedding-example: the rule skipped the record (no email); pass a --record it maps\n")
    }
}
