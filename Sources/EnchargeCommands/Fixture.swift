import EnchargeKit
import JSONKit
import SystemKit
import WebhookSignatures

/// One fixture file of `encharge-lua test`: an input for the rule (a record for `on_record`, or a
/// webhook request for `on_webhook`/`routes`), what it runs with (settings, a fixed clock), and
/// the outcome it expects. `diff` reads the same files as inputs.
///
/// Loading is strict: a member the format does not know, two inputs, no input, or a value of the
/// wrong type is a `FixtureError` naming the file and the JSON path.
struct Fixture: Sendable {
    /// What the rule runs on.
    enum Input: Sendable {
        /// A record for `on_record(record, ctx)`.
        case record(JSONValue)
        /// A request for `routes["METHOD /path"]` or `on_webhook(req)`, answered as `serve` answers.
        case webhook(FixtureWebhook)
    }

    /// The file as shown in messages and output.
    var file: String
    var input: Input
    /// The record's `ctx.source`: the fixture's `source`, else the file's name.
    var source: String
    /// Settings merged over the command's `--settings`/`--set` (`encharge.settings`).
    var settings: JSONObject?
    /// The fixed clock, in seconds since 1970, for `os.time()`, `os.date()` and the date helpers.
    var now: Int64?
    /// What the fixture expects; nil when it holds only an input (`--update` records one).
    var expectation: FixtureOutcome?
    /// The file's text and where each top-level member's value lies in it, so `--update` copies
    /// the input members byte for byte.
    var text: [UInt8]
    var memberSpans: [(key: String, value: Range<Int>)]

    /// The members that say what runs (copied verbatim by `--update`).
    static let inputMembers: Set<String> = ["record", "webhook", "settings", "now", "sign", "source"]

    /// Reads and checks the fixture at `path`; a `sign` member signs at the fixture's `now`, else at
    /// `signedAt` (Unix time; the current time, for the tolerance of the schemes with timestamps).
    static func load(_ path: String, signedAt: Int) throws(FixtureError) -> Fixture {
        let text: [UInt8]
        do { text = try FileReader.read(path) } catch {
            throw FixtureError(file: path, jsonPath: nil, error.kind.fixtureMessage)
        }
        return try Fixture(file: path, text: text, signedAt: signedAt)
    }

    /// Checks the fixture text of `file`.
    init(file: String, text: [UInt8], signedAt: Int) throws(FixtureError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: text) } catch {
            throw FixtureError(file: file, jsonPath: nil, "is not valid JSON (\(error.description)); fix the file")
        }
        let reader = FixtureReader(file: file)
        let root = try reader.object(value, at: JSONPath())
        let spans = FixtureMemberSpans.scan(text)
        var seen: Set<String> = []
        for span in spans where !seen.insert(span.key).inserted {
            throw reader.error(JSONPath(), "has the member \"\(span.key)\" twice; keep one")
        }
        self.file = file
        self.text = text
        memberSpans = spans
        (input, source, settings, now, expectation) = try reader.fixture(
            root, fileName: Self.fileName(file), signedAt: signedAt)
    }

    /// The last component of `path`.
    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

extension FileReadError.Kind {
    /// Why a fixture file could not be read and what to do, without the file name.
    var fixtureMessage: String {
        switch self {
        case .cannotOpen(let reason), .readFailed(let reason): "cannot be read (\(reason)); check the path"
        case .directory: "cannot be read (it is a directory); check the path"
        case .tooLarge(let limit):
            "is larger than \(limit >> 20) MiB, the most a fixture may hold; keep one input per fixture, and map a batch of records with run --dry-run"
        }
    }
}
