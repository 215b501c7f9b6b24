#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the example was asked to do, from its command line and environment.
struct ExampleArguments {
    /// The Ingest endpoint: `--endpoint URL`, else `$ENCHARGE_ENDPOINT`.
    var endpoint: String
    /// The write key, from `$ENCHARGE_WRITE_KEY` only, so it never shows in a process list.
    var writeKey: String
    /// `--rules PATH`, else the `rules.lua` beside this example's `Sources` folder.
    var rulesPath: String
    /// `--record JSON`, else a sample sign-up.
    var record: String

    static let usage =
        "usage: encharge-embedding-example --endpoint URL [--rules PATH] [--record JSON]"
        + " (write key in ENCHARGE_WRITE_KEY)"

    /// Reads `arguments` (without the program name); throws an `ExampleError` with exit status 2
    /// naming the first problem.
    init(_ arguments: [String]) throws(ExampleError) {
        var endpoint = Self.environment("ENCHARGE_ENDPOINT")
        rulesPath = Self.defaultRulesPath
        record = #"{"email": "ada@example.com", "first_name": "Ada", "plan": "pro"}"#
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard ["--endpoint", "--rules", "--record"].contains(flag) else {
                throw ExampleError("unknown argument '\(flag)'; \(Self.usage)", status: 2)
            }
            guard let value = rest.popFirst() else {
                throw ExampleError("\(flag) needs a value; \(Self.usage)", status: 2)
            }
            switch flag {
            case "--endpoint": endpoint = value
            case "--rules": rulesPath = value
            default: record = value
            }
        }
        guard let endpoint else {
            throw ExampleError(
                "no endpoint; pass --endpoint http://127.0.0.1:PORT/v1/ (a running mock-ingest)", status: 2)
        }
        guard let writeKey = Self.environment("ENCHARGE_WRITE_KEY"), !writeKey.isEmpty else {
            throw ExampleError("no write key; set ENCHARGE_WRITE_KEY (any value for mock-ingest)", status: 2)
        }
        self.endpoint = endpoint
        self.writeKey = writeKey
    }

    /// examples/swift-embedding/rules.lua, found from this source file's path at build time.
    static var defaultRulesPath: String {
        var path = #filePath
        for _ in 0..<2 {
            guard let slash = path.lastIndex(of: "/") else { return "rules.lua" }
            path = String(path[..<slash])
        }
        return path + "/rules.lua"
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
