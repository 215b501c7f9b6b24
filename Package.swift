// swift-tools-version: 6.0
import PackageDescription

/// Every Swift target: `any` spelled out for existentials, and each file imports every module whose
/// members it uses (no leaking of transitive imports).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "encharge-lua",
    products: [
        .executable(name: "encharge-lua", targets: ["encharge-lua"]),
        /// The event model, validation, wire encoding and Ingest client, usable from any Swift app.
        .library(name: "EnchargeKit", targets: ["EnchargeKit"]),
        /// Embedded, sandboxed Lua 5.4: one `LuaState` with memory, instruction and time limits, Swift
        /// functions callable from Lua, and the JSON ⇄ Lua value codec.
        .library(name: "LuaKit", targets: ["LuaKit"]),
        /// The JSON value, parser and writer that the other libraries' public API carries.
        .library(name: "JSONKit", targets: ["JSONKit"]),
        /// The rule engine: load a Lua rule, map records and webhook requests to validated events.
        .library(name: "EnchargeRules", targets: ["EnchargeRules"]),
        /// A local stand-in for the Encharge Ingest API, for tests and offline development.
        .library(name: "MockIngest", targets: ["MockIngest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Named for the modules the code imports directly (NIOCore, HTTPTypes); Hummingbird brings them.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // For NIOHTTPTypes, the HTTP parts the webhook server's header-timeout handler sees.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // The PostgreSQL spool's client and its TLS (`sslmode`): only PostgresSpool imports them.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C: Lua 5.4 headers plus the shims Swift cannot write itself (macros, the allocator, the
        // count hook and the trampoline that raises Lua errors outside Swift frames).
        .target(name: "CLua", linkerSettings: [.linkedLibrary("lua5.4")]),
        // C: libcurl headers plus typed setters for its variadic calls.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        // Platform plumbing with package access: clocks, write-all and output writers, text made safe
        // for a terminal (diagnostic lines, the escaping log handler), whole-file reads, trim, hex,
        // constant-time compare, edit distance, a joinable thread and a condition lock.
        .target(
            name: "SystemKit", dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // A deterministic, lossless JSON value, parser and encoder; knows neither Lua nor Encharge.
        .target(name: "JSONKit", swiftSettings: swiftSettings),
        // A Swift API over one sandboxed lua_State; knows nothing of Encharge.
        .target(name: "LuaKit", dependencies: ["CLua", "JSONKit", "SystemKit"], swiftSettings: swiftSettings),
        // Encharge events, validation, wire encoding and delivery; knows nothing of Lua.
        .target(name: "EnchargeKit", dependencies: ["CCurl", "JSONKit", "SystemKit"], swiftSettings: swiftSettings),
        // The input readers (JSON lines, JSON arrays, CSV) behind one record source.
        .target(name: "RecordSources", dependencies: ["JSONKit", "SystemKit"], swiftSettings: swiftSettings),
        // The rule engine (records, webhooks) and the Lua modules a rule sees.
        .target(
            name: "EnchargeRules",
            dependencies: [
                "LuaKit", "EnchargeKit", "JSONKit", "WebhookSignatures", "SystemKit",
            ],
            swiftSettings: swiftSettings),
        // Webhook signature schemes (Stripe, GitHub, Shopify, Standard Webhooks, generic HMAC);
        // knows neither Lua nor Encharge.
        .target(
            name: "WebhookSignatures",
            dependencies: ["SystemKit", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        // The spool protocol (`EventSpool`) of accepted webhook events, the durable SQLite spool and the
        // delivery worker, which knows only the protocol.
        .target(
            name: "EnchargeSpool",
            dependencies: ["EnchargeKit", "JSONKit", "SystemKit", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),
        // The PostgreSQL spool: the same spool protocol on a database that many `serve` replicas and
        // `deliver` workers share (group commit, dedup by a unique constraint, lanes under advisory
        // locks).
        .target(
            name: "PostgresSpool",
            dependencies: [
                "EnchargeSpool", "EnchargeKit", "JSONKit", "SystemKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // The webhook server: the Hummingbird application, its controller and middleware, the rule
        // pool, metrics and the services that deliver and reload.
        .target(
            name: "WebhookServer",
            dependencies: [
                "EnchargeKit", "JSONKit", "EnchargeRules", "EnchargeSpool", "WebhookSignatures", "SystemKit", "LuaKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings),
        // The mock Ingest API: `mock-ingest` and the tests' stand-in for Encharge.
        .target(
            name: "MockIngest",
            dependencies: [
                "EnchargeKit", "JSONKit", "SystemKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings),
        // The jobs (run, replay, replay --spool, check, test): progress, summary, exit status,
        // diagnostics, all through an injected context; `test` answers webhook fixtures with the
        // server's own checks and answers.
        .target(
            name: "EnchargeCommands",
            dependencies: [
                "EnchargeRules", "RecordSources", "EnchargeKit", "EnchargeSpool", "PostgresSpool", "JSONKit", "LuaKit",
                "SystemKit", "WebhookSignatures", "WebhookServer",
            ],
            swiftSettings: swiftSettings, plugins: ["EmbedTemplates"]),
        // Writes `RuleTemplate.embeddedFiles` from the template folders of examples/ at build time, so
        // `init` needs no source tree and examples/ is the only copy of the templates.
        .executableTarget(name: "embed-templates", swiftSettings: swiftSettings),
        .plugin(name: "EmbedTemplates", capability: .buildTool(), dependencies: ["embed-templates"]),
        .executableTarget(
            name: "encharge-lua",
            dependencies: [
                "EnchargeCommands", "EnchargeRules", "RecordSources", "EnchargeKit", "WebhookServer", "MockIngest",
                "JSONKit", "LuaKit", "SystemKit", "WebhookSignatures", "EnchargeSpool",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        // examples/swift-embedding: an app embedding the rule engine and the delivery engine. Without
        // package access, so it compiles only against what the products offer publicly. Its root is all
        // of examples/ because SwiftPM re-plans the build, re-running EmbedTemplates, only when the file
        // tree under a target's root changes: so a file added to or removed from a template is embedded
        // (or dropped) by the next build. Everything there but its Sources is excluded, each template
        // folder by name.
        .executableTarget(
            name: "encharge-embedding-example",
            dependencies: ["EnchargeRules", "EnchargeKit", "JSONKit", "LuaKit"],
            path: "examples",
            exclude: [
                "signups", "stripe", "github", "shopify", "form",
                "swift-embedding/README.md", "swift-embedding/rules.lua", "swift-embedding/fixtures",
            ],
            sources: ["swift-embedding/Sources"], packageAccess: false, swiftSettings: swiftSettings),
        .testTarget(
            name: "SystemKitTests",
            dependencies: ["SystemKit", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // Shared test helpers: the scripted Ingest server, the live-application runner, temporary
        // directories, `eventually`, a raw HTTP client, request signing, the binary harness and the spool fixtures.
        .target(
            name: "TestSupport",
            dependencies: [
                "MockIngest", "EnchargeKit", "JSONKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "TestSupportTests",
            dependencies: ["TestSupport", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings),
        .testTarget(name: "JSONKitTests", dependencies: ["JSONKit"], swiftSettings: swiftSettings),
        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit", "CLua", "JSONKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EnchargeKitTests",
            dependencies: ["EnchargeKit", "CCurl", "JSONKit", "SystemKit", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RecordSourcesTests", dependencies: ["RecordSources", "JSONKit", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EnchargeRulesTests",
            dependencies: ["EnchargeRules", "EnchargeKit", "JSONKit", "SystemKit"],
            swiftSettings: swiftSettings),
        // The embedding API as an app outside the package sees it: no package access.
        .testTarget(
            name: "EnchargeRulesPublicAPITests", dependencies: ["EnchargeRules", "EnchargeKit", "JSONKit", "LuaKit"],
            packageAccess: false, swiftSettings: swiftSettings),
        .testTarget(
            name: "EnchargeCommandsTests",
            dependencies: [
                "EnchargeCommands", "EnchargeRules", "RecordSources", "EnchargeKit", "EnchargeSpool", "JSONKit",
                "SystemKit", "TestSupport",
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EnchargeLuaTests",
            dependencies: [
                "encharge-lua", "EnchargeCommands", "EnchargeKit", "MockIngest", "RecordSources", "SystemKit",
                "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "WebhookServerTests",
            dependencies: [
                "WebhookServer", "MockIngest", "EnchargeKit", "EnchargeRules", "EnchargeSpool", "PostgresSpool",
                "JSONKit",
                "LuaKit",
                "WebhookSignatures", "SystemKit", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MockIngestTests",
            dependencies: [
                "MockIngest", "EnchargeKit", "JSONKit", "SystemKit", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "WebhookSignaturesTests", dependencies: ["WebhookSignatures", "SystemKit", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EnchargeSpoolTests",
            dependencies: [
                "EnchargeSpool", "EnchargeKit", "JSONKit", "SystemKit", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings),
        // The spool protocol's semantics, run against every backend in `SpoolBackends.all` (a backend's
        // target is listed here with its factory).
        .testTarget(
            name: "SpoolBackendTests",
            dependencies: [
                "EnchargeSpool", "PostgresSpool", "EnchargeKit", "JSONKit", "SystemKit", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PostgresSpoolTests",
            dependencies: ["PostgresSpool", "EnchargeSpool", "EnchargeKit", "JSONKit", "SystemKit", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EndToEndTests", dependencies: ["TestSupport"],
            resources: [.copy("Golden")], swiftSettings: swiftSettings),
    ]
)
