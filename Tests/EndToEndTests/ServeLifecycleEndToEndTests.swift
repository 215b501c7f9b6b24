import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers

/// A TCP listener on 127.0.0.1 that accepts connections and never answers: an Ingest API that
/// hangs, or just a port that is taken.
final class SilentListener {
    /// The listening socket could not be set up.
    struct ListenFailure: Error, CustomStringConvertible {
        var description: String
    }

    let fd: Int32
    let port: Int
    private var accepted: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            Glibc.close(listener)
            throw ListenFailure(description: "bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var endpoint: String { "http://127.0.0.1:\(port)/v1/" }

    /// Waits up to `timeout` seconds for a client to connect, and keeps the connection open.
    func waitForConnection(timeout: Double) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return false }
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return false }
        accepted.append(client)
        return true
    }

    func close() {
        for client in accepted { Glibc.close(client) }
        Glibc.close(fd)
    }
}

// MARK: - Tests

/// Process-level promises of `serve`: one owner per spool, nothing delivered by a server that
/// cannot listen, private spool files, a refused write key pauses delivery, a stop that keeps to
/// its timeout.
extension ServeEndToEndTests {
    @Test(.timeLimit(.minutes(2)))
    func aSecondServeOnTheSameSpoolRefusesToStart() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let first = try startServe(rules, tmp, mock)
        defer { first.kill9() }
        let spool = tmp.path + "/spool.sqlite"
        let second = try Binary.run(
            ["serve", rules, "--port", "0", "--spool", spool, "--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], directory: tmp.path, removing: ["ENCHARGE_ENDPOINT"],
            timeout: 20)
        #expect(second.status == 2, "\(second.stderr)")
        #expect(
            second.stderr
                == "error: \(spool): is in use by another encharge-lua serve (pid \(first.process.processIdentifier)); stop that one first, or give this one its own --spool\n"
        )
        #expect(second.stdout.isEmpty, "it never listened")
        // The owner carries on; once it is gone the spool can be served again.
        #expect(try first.postJSON("/", #"{"email":"own@example.com","seq":1}"#).status == 202)
        #expect(await waitForSeq(1, mock))
        #expect(first.stop() == 0)
        let next = try startServe(rules, tmp, mock)
        defer { next.kill9() }
        #expect(try next.postJSON("/", #"{"email":"own@example.com","seq":2}"#).status == 202)
        #expect(await waitForSeq(2, mock))
        #expect(recordedSeqs(mock) == [1, 2])
    }

    @Test(.timeLimit(.minutes(2)))
    func aServeThatCannotBindItsPortExitsBeforeDeliveringAnything() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let spool = tmp.path + "/spool.sqlite"
        // An event left pending: accepted while the Ingest API could not be reached, then killed.
        let unreachable = try SilentListener()
        let offline = try ServeProcess(
            ["serve", rules, "--port", "0", "--spool", spool, "--endpoint", unreachable.endpoint], in: tmp,
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        #expect(try offline.postJSON("/", #"{"email":"bind@example.com","seq":1}"#).status == 202)
        offline.kill9()
        unreachable.close()

        let mock = try startMock(tmp)
        defer { mock.stop() }
        let taken = try SilentListener()
        defer { taken.close() }
        let blocked = try Binary.run(
            ["serve", rules, "--port", "\(taken.port)", "--spool", spool, "--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], directory: tmp.path, removing: ["ENCHARGE_ENDPOINT"],
            timeout: 20)
        #expect(blocked.status == 2, "\(blocked.stderr)")
        #expect(
            blocked.stderr.contains("error: cannot listen on 127.0.0.1:\(taken.port): address already in use\n"),
            "\(blocked.stderr)")
        #expect(mock.received().isEmpty, "a server that never listened delivered the spool")
        // The event is still there for a server that can listen.
        let serve = try startServe(rules, tmp, mock)
        defer { serve.kill9() }
        #expect(await waitForSeq(1, mock))
    }

    @Test(.timeLimit(.minutes(2)))
    func serveRefusesAFileThatIsNotASpoolAndCreatesItsOwnFilesPrivate() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let csv = try tmp.write("customers.csv", String(repeating: "email,name\nann@example.com,Ann\n", count: 100))
        let refused = try Binary.run(
            ["serve", rules, "--port", "0", "--spool", csv, "--endpoint", mock.endpoint],
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], directory: tmp.path, removing: ["ENCHARGE_ENDPOINT"],
            timeout: 20)
        #expect(refused.status == 2)
        #expect(
            refused.stderr
                == "error: \(csv): is not a SQLite database, so not a spool; pass a spool or a new file to --spool\n")

        let serve = try startServe(rules, tmp, mock)
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"private@example.com","seq":1}"#).status == 202)
        #expect(await waitForSeq(1, mock))
        for file in ["spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm", "spool.sqlite.lock"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: tmp.path + "/" + file)
            #expect(attributes[.posixPermissions] as? Int == 0o600, "\(file) is readable by others")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aRefusedWriteKeyPausesDeliveryKeepsTheEventsAndResumesWhenAccepted() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        // The API refuses the key serve was given.
        let refusing = try MockIngestProcess(["--write-key", "the-key-the-account-has-now"], in: tmp)
        let port = try #require(URL(string: refusing.endpoint)?.port)
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let serve = try startServe(rules, tmp, refusing, ["--key-retry-interval", "0.3"])
        defer { serve.kill9() }
        for seq in 1...5 {
            #expect(try serve.postJSON("/", #"{"email":"refused@example.com","seq":\#(seq)}"#).status == 202)
        }
        let message = "error: the Ingest API refused the write key (HTTP 401); check ENCHARGE_WRITE_KEY"
        await eventually("\(serve.stderr)", timeout: .seconds(15)) { serve.stderr.contains(message) }
        let health = try serve.send("GET", "/healthz")
        #expect(health.status == 503, "\(health)")
        #expect(
            health.json?["status"] as? String
                == "the Ingest API refused the write key (HTTP 401); check ENCHARGE_WRITE_KEY")
        let metrics = try serve.send("GET", "/metrics").text
        #expect(metrics.contains("encharge_spool_depth 5"), "the events stay pending: \(metrics)")
        #expect(metrics.contains("encharge_spool_dead 0"), "\(metrics)")

        // The key is accepted again (here: the API on the same port now has this key).
        refusing.stop()
        let accepting = try MockIngestProcess(["--write-key", Self.writeKey, "--port", "\(port)"], in: tmp)
        defer { accepting.stop() }
        #expect(await waitForSeq(5, accepting, timeout: .seconds(15)))
        #expect(recordedSeqs(accepting) == [1, 2, 3, 4, 5])
        await eventually("/healthz answered 200 again", timeout: .seconds(5)) {
            (try? serve.send("GET", "/healthz"))?.status == 200
        }
        #expect(serve.stderrCount(message) == 1, "reported once per pause: \(serve.stderr)")
        #expect(serve.stderr.contains("delivery resumed"), "\(serve.stderr)")
        expectNoSecrets(serve, [])
    }

    /// The pause names where the key came from, as `run` and `replay` do: with `--write-key-file`
    /// the user fixes that file, not the environment variable.
    @Test(.timeLimit(.minutes(2)))
    func aRefusedKeyFromAFileNamesTheFile() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let refusing = try MockIngestProcess(["--write-key", "the-key-the-account-has-now"], in: tmp)
        defer { refusing.stop() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let keyFile = try tmp.write("key.txt", Self.writeKey + "\n")
        chmod(keyFile, 0o600)
        let serve = try startServe(rules, tmp, refusing, ["--key-retry-interval", "0.3", "--write-key-file", keyFile])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"refused@example.com","seq":1}"#).status == 202)
        let reason = "the Ingest API refused the write key (HTTP 401); check --write-key-file \(keyFile)"
        await eventually("\(serve.stderr)", timeout: .seconds(15)) { serve.stderr.contains("error: " + reason) }
        #expect(try serve.send("GET", "/healthz").json?["status"] as? String == reason)
        expectNoSecrets(serve, [])
    }

    @Test(.timeLimit(.minutes(2)))
    func theDrainTimeoutBoundsTheStopAgainstAHangingIngestAPI() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let hanging = try SilentListener()
        defer { hanging.close() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let spool = tmp.path + "/spool.sqlite"
        let serve = try ServeProcess(
            [
                "serve", rules, "--port", "0", "--spool", spool, "--endpoint", hanging.endpoint, "--drain-timeout", "1",
                "--request-timeout", "120",
            ],
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"drain@example.com","seq":1}"#).status == 202)
        #expect(hanging.waitForConnection(timeout: 10), "the event is on the wire")
        let stopped = Date()
        serve.signal(SIGTERM)
        #expect(serve.waitForExit(timeout: 10), "the stop waited for the hanging request")
        #expect(Date().timeIntervalSince(stopped) < 5)
        #expect(serve.process.terminationStatus == 0, "\(serve.stderr)")
        #expect(serve.stderr.contains("warning: the drain timeout (1 s) ran out"), "\(serve.stderr)")

        // The event stayed pending: the next server delivers it.
        let mock = try startMock(tmp)
        defer { mock.stop() }
        let next = try startServe(rules, tmp, mock)
        defer { next.kill9() }
        #expect(await waitForSeq(1, mock))
    }

    @Test(.timeLimit(.minutes(2)))
    func aSecondSignalStopsServeAtOnce() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let hanging = try SilentListener()
        defer { hanging.close() }
        let rules = try tmp.write("rules.lua", Self.paidRule)
        let serve = try ServeProcess(
            [
                "serve", rules, "--port", "0", "--spool", tmp.path + "/spool.sqlite", "--endpoint", hanging.endpoint,
                "--drain-timeout", "120", "--request-timeout", "120",
            ],
            in: tmp, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"email":"twice@example.com","seq":1}"#).status == 202)
        #expect(hanging.waitForConnection(timeout: 10))
        serve.signal(SIGINT)
        #expect(!serve.waitForExit(timeout: 1), "the first signal drains for up to --drain-timeout")
        serve.signal(SIGINT)
        #expect(serve.waitForExit(timeout: 5), "a second signal stops at once")
        #expect(serve.process.terminationStatus == 130, "\(serve.stderr)")

        let mock = try startMock(tmp)
        defer { mock.stop() }
        let next = try startServe(rules, tmp, mock)
        defer { next.kill9() }
        #expect(await waitForSeq(1, mock), "the event stayed pending in the spool")
    }
}
