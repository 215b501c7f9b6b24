import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12 with real processes on a real PostgreSQL (a throwaway cluster, `PostgresCluster`):
/// `serve` replicas and `deliver` workers sharing one spool. Processes are needed for what no
/// in-process test can do: `kill -9` of a replica or a worker (whose advisory locks PostgreSQL frees
/// only when its connection dies), and several processes competing for one delivery id and for
/// the lanes. Traffic stays on 127.0.0.1.
@Suite(.serialized) struct SpoolScalingEndToEndTests {
    static let writeKey = "e2e-scaling-write-key-51c0"

    /// One event per entry of `req.json.seqs`, for the person `req.json.uid`; answers `req.json.status` (default 202).
    static let rule = """
        function on_webhook(req)
          for _, seq in ipairs(req.json.seqs) do
            encharge.track("Step", { userId = req.json.uid }, { seq = seq })
          end
          return req.json.status or 202
        end
        """

    let cluster: PostgresCluster

    init() throws {
        cluster = try PostgresCluster.shared()
    }

    /// A fresh database's spool URL (without the password; processes read it from `PGPASSWORD`).
    func freshSpool() throws -> String { cluster.url(database: try cluster.createDatabase()) }

    var environment: [String: String] { cluster.environment.merging(["ENCHARGE_WRITE_KEY": Self.writeKey]) { $1 } }

    /// `serve RULES --port 0 --spool URL --endpoint MOCK` with quick retries.
    func startServe(
        _ rules: String, spool: String, _ tmp: TemporaryDirectory, _ mock: MockIngestProcess, _ extra: [String] = []
    ) throws -> ServeProcess {
        try ServeProcess(
            [
                "serve", rules, "--port", "0", "--spool", spool, "--endpoint", mock.endpoint, "--backoff-base",
                "0.05", "--backoff-cap", "0.5", "--workers", "2",
            ] + extra, in: tmp, environment: environment)
    }

    /// `deliver --spool URL --endpoint MOCK`, waiting for its start line.
    func startDeliver(
        spool: String, _ tmp: TemporaryDirectory, _ mock: MockIngestProcess, _ extra: [String] = []
    ) throws -> RunningBinary {
        try DeliverProcess.start(
            [
                "--spool", spool, "--endpoint", mock.endpoint, "--backoff-base", "0.05", "--backoff-cap", "0.5",
                "--status-interval", "0.5",
            ] + extra, in: tmp, environment: environment)
    }

    /// How many events the mock recorded, counting lines only (the file grows to 50k lines).
    func recordedCount(_ mock: MockIngestProcess) -> Int {
        guard let data = FileManager.default.contents(atPath: mock.recordPath) else { return 0 }
        return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// Each person's delivered `seq`s, in arrival order.
    func deliveredSeqs(_ mock: MockIngestProcess) -> [String: [Int]] {
        var seqs: [String: [Int]] = [:]
        for event in mock.received() {
            guard let person = (event["user"] as? [String: Any])?["userId"] as? String,
                let seq = (event["properties"] as? [String: Any])?["seq"] as? Int
            else { continue }
            seqs[person, default: []].append(seq)
        }
        return seqs
    }

    /// Checks one person's delivered seqs: each first delivery in order, and a seq delivered again
    /// (a resend: a whole request sent again, so after its later events too) only when `mayRepeat`
    /// allows it; returns how many repeats there were.
    @discardableResult
    func checkOrder(
        _ seqs: [Int], of person: String, mayRepeat: (Int) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        var repeats = 0
        var delivered = Set<Int>()
        var last = -1
        for seq in seqs {
            if delivered.contains(seq) {
                repeats += 1
                #expect(mayRepeat(seq), "\(person): \(seq) delivered twice: \(seqs)", sourceLocation: sourceLocation)
                continue
            }
            #expect(seq > last, "\(person): \(seq) after \(last): \(seqs)", sourceLocation: sourceLocation)
            delivered.insert(seq)
            last = seq
        }
        return repeats
    }

    // MARK: (a) Two replicas under load, one killed

    /// Two `serve --no-deliver` replicas and one `deliver` worker. 16 clients each send their own
    /// person's requests one after another, alternating between the replicas as a round-robin load
    /// balancer would; a request that gets no answer is sent to the other replica. Mid-load, one
    /// replica gets `kill -9`. Every request answered 2xx has both its events delivered, each
    /// person's in order; an event may arrive twice only when its request was in flight at the kill
    /// (committed by the dead replica, unanswered, sent again), and those are counted.
    @Test(.timeLimit(.minutes(4)))
    func twoReplicasUnderLoadLoseNothingAnsweredWhenOneIsKilled() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = try freshSpool()
        let rules = try tmp.write("rules.lua", Self.rule)
        let mock = try MockIngestProcess(["--write-key", Self.writeKey], in: tmp)
        defer { mock.stop() }
        let replicas = [
            try startServe(rules, spool: spool, tmp, mock, ["--no-deliver"]),
            try startServe(rules, spool: spool, tmp, mock, ["--no-deliver"]),
        ]
        defer { replicas.forEach { $0.kill9() } }
        let worker = try startDeliver(spool: spool, tmp, mock)
        defer { worker.kill9() }

        let people = 16, requestsEach = 30
        struct Load {
            var answered = 0
            /// Per person, the requests sent again after the replica they went to gave no answer.
            var resent: [String: Set<Int>] = [:]
            var failures: [String] = []
        }
        let load = Mutex(Load())
        let ports = replicas.map(\.port)
        let clients = DispatchGroup()
        for person in 0..<people {
            DispatchQueue.global().async(group: clients) {
                let uid = "person-\(person)"
                // A replica that gave no answer is taken out, as a load balancer's health check would.
                var down = Set<Int>()
                for request in 0..<requestsEach {
                    // Events 2r and 2r+1: the order within a request is checked too.
                    let body = #"{"uid":"\#(uid)","seqs":[\#(2 * request),\#(2 * request + 1)]}"#
                    var target = (person + request) % 2
                    var attempts = 0
                    while true {
                        attempts += 1
                        if down.contains(target) { target = 1 - target }
                        let reply = try? RawHTTPConnection.postJSON(port: ports[target], "/", body, timeout: 20)
                        if let reply, reply.status == 202 {
                            load.withLock { $0.answered += 1 }
                            break
                        }
                        if reply == nil {
                            down.insert(target)
                            load.withLock { _ = $0.resent[uid, default: []].insert(request) }
                        }
                        guard attempts < 50 else {
                            load.withLock {
                                $0.failures.append("\(uid) request \(request): \(String(describing: reply))")
                            }
                            return
                        }
                        target = 1 - target
                    }
                }
            }
        }
        let total = people * requestsEach
        try #require(
            await eventually("a third of the load answered", timeout: .seconds(90)) {
                load.withLock { $0.answered } >= total / 3
            })
        replicas[1].kill9()
        await withCheckedContinuation { continuation in
            clients.notify(queue: .global()) { continuation.resume() }
        }
        let final = load.withLock { $0 }
        #expect(final.failures.isEmpty, "\(final.failures)")
        #expect(final.answered == total)
        #expect(
            await eventually("every answered request's events are delivered", timeout: .seconds(90)) {
                let delivered = deliveredSeqs(mock)
                return delivered.count == people && delivered.values.allSatisfy { Set($0).count == 2 * requestsEach }
            })
        var repeats = 0
        for (person, seqs) in deliveredSeqs(mock) {
            let resent = final.resent[person] ?? []
            repeats += checkOrder(seqs, of: person) { resent.contains($0 / 2) }
        }
        let inFlightAtKill = final.resent.values.reduce(0) { $0 + $1.count }
        #expect(inFlightAtKill > 0, "the kill came mid-load: some requests to the killed replica got no answer")
        #expect(inFlightAtKill <= people, "each client had at most one request in flight at the kill")
        #expect(
            repeats <= 2 * inFlightAtKill, "duplicates only for the \(inFlightAtKill) requests in flight at the kill")
        #expect(replicas[0].stop() == 0)
    }

    // MARK: (b) Dedup race

    /// The same `webhook-id` posted to two replicas at the same moment, 20 times over: every
    /// answer is 200 and each delivery's event is stored once (the unique constraint decides,
    /// whichever replica's commit comes first). The rule answers 200 itself, so the winner's and
    /// the duplicate's answers look alike to the sender.
    @Test(.timeLimit(.minutes(3)))
    func theSameDeliveryIdPostedToTwoReplicasAtOnceIsStoredOnceAndAnswered200ByBoth() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = try freshSpool()
        let rules = try tmp.write("rules.lua", Self.rule)
        let mock = try MockIngestProcess(["--write-key", Self.writeKey], in: tmp)
        defer { mock.stop() }
        let replicas = [try startServe(rules, spool: spool, tmp, mock), try startServe(rules, spool: spool, tmp, mock)]
        defer { replicas.forEach { $0.kill9() } }
        let ports = replicas.map(\.port)
        let races = 20
        let statuses = Mutex<[Int]>([])
        let duplicates = Atomic<Int>(0)
        for race in 0..<races {
            let body = #"{"uid":"racer","seqs":[\#(race)],"status":200}"#
            let start = DispatchSemaphore(value: 0)
            let both = DispatchGroup()
            for port in ports {
                DispatchQueue.global().async(group: both) {
                    start.wait()
                    let reply = try? RawHTTPConnection.postJSON(
                        port: port, "/", body, headers: [("webhook-id", "msg_race_\(race)")])
                    statuses.withLock { $0.append(reply?.status ?? -1) }
                    if reply?.json?["duplicate"] as? Bool == true { duplicates.add(1, ordering: .relaxed) }
                }
            }
            start.signal()
            start.signal()
            both.wait()
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 2 * races))
        #expect(duplicates.load(ordering: .relaxed) == races, "one answer of each pair is the duplicate")
        // One person: once the last event arrived, everything before it has.
        let last = try RawHTTPConnection.postJSON(port: ports[0], "/", #"{"uid":"racer","seqs":[1000]}"#)
        #expect(last.status == 202)
        try #require(
            await eventually("the closing event is delivered", timeout: .seconds(60)) {
                deliveredSeqs(mock)["racer"]?.last == 1000
            })
        #expect(deliveredSeqs(mock)["racer"] == Array(0..<races) + [1000], "each delivery once, in order")
    }

    // MARK: (c) Lane takeover

    /// Two `deliver` workers share the lanes of a spool (32 each), which then receives events for 64
    /// people to send to a slow Ingest API; one worker is killed (`kill -9`) while it holds lanes with
    /// requests on the wire. The other
    /// takes its lanes over within the lease time and delivers everything, each person in order;
    /// only events the dead worker had in flight (on the wire, or delivered and not yet recorded)
    /// may arrive twice.
    @Test(.timeLimit(.minutes(3)))
    func aKilledWorkersLanesAreTakenOverByAnotherWithinTheLeaseTime() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = try freshSpool()
        let mock = try MockIngestProcess(["--write-key", Self.writeKey, "--latency-ms", "100"], in: tmp)
        defer { mock.stop() }
        let people = 64, eventsEach = 20
        let doomed = try startDeliver(spool: spool, tmp, mock, ["--concurrency", "8"])
        defer { doomed.kill9() }
        let survivor = try startDeliver(spool: spool, tmp, mock, ["--concurrency", "8"])
        defer { survivor.kill9() }
        // Idle, the two split the lanes evenly.
        for worker in [doomed, survivor] {
            try #require(
                worker.waitForLine(on: .stderr) { $0.contains("; 32 of 64 lanes;") } != nil, "\(worker.stderr)")
        }
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        var lines = ""
        for seq in 0..<eventsEach {
            for person in 0..<people { lines += #"{"uid":"p\#(person)","seq":\#(seq)}"# + "\n" }
        }
        let input = try tmp.write("in.jsonl", lines)
        let spooled = try Binary.run(
            ["run", rules, input, "--spool", spool], environment: environment, directory: tmp.path, timeout: 120)
        try #require(spooled.status == 0, "\(spooled.stderr)")
        // The doomed worker delivers its lanes, with requests on the wire.
        try #require(
            doomed.waitForLine(on: .stderr) { $0.hasPrefix("deliver: ") && !$0.hasPrefix("deliver: 0 delivered") }
                != nil, "\(doomed.stderr)")
        try #require(recordedCount(mock) < people * eventsEach, "the kill comes while events are left")
        let seenBeforeKill = survivor.stderr.count
        doomed.kill9()
        let killedAt = ContinuousClock.now
        // The lease is 5 s, lanes re-balance every second, and the status line comes every 0.5 s.
        #expect(
            await eventually("the survivor holds every lane", timeout: .seconds(30), interval: .milliseconds(50)) {
                survivor.stderr.dropFirst(seenBeforeKill).contains("; 64 of 64 lanes;")
            })
        let takeover = ContinuousClock.now - killedAt
        #expect(takeover < .seconds(8), "lanes taken over within the lease time, took \(takeover)")
        #expect(
            await eventually("the survivor delivers every lane", timeout: .seconds(60), interval: .milliseconds(100)) {
                Set(deliveredSeqs(mock).flatMap { person, seqs in seqs.map { "\(person)/\($0)" } }).count
                    == people * eventsEach
            })
        var repeats = 0
        for (person, seqs) in deliveredSeqs(mock) {
            repeats += checkOrder(seqs, of: person) { _ in true }
        }
        // Sent twice: at most what the dead worker had on the wire (--concurrency 8) and what it had
        // delivered but not yet recorded (settlements are committed in batches, one per commit round).
        #expect(repeats <= 16, "only what the dead worker had in flight is sent twice, got \(repeats)")
        survivor.signal(SIGTERM)
        #expect(survivor.wait() == 0, "\(survivor.stderr)")
        #expect(survivor.stderr.contains("deliver: stopped: "), "\(survivor.stderr)")
    }

    // MARK: (d) Backfill through the spool

    /// `run --spool` maps 50k records into the spool and exits once all are committed; two
    /// `deliver` workers, sharing the lanes, send them as they are committed, every person's events
    /// in order, each event once.
    @Test(.timeLimit(.minutes(6)))
    func aBackfillOf50kRecordsThroughTheSpoolIsDeliveredByTwoWorkersInPerPersonOrder() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = try freshSpool()
        let mock = try MockIngestProcess(["--write-key", Self.writeKey], in: tmp)
        defer { mock.stop() }
        let records = 50_000, people = 500
        let workers = [
            try startDeliver(spool: spool, tmp, mock, ["--concurrency", "32"]),
            try startDeliver(spool: spool, tmp, mock, ["--concurrency", "32"]),
        ]
        defer { workers.forEach { $0.kill9() } }
        for worker in workers {
            try #require(
                worker.waitForLine(on: .stderr) { $0.contains("; 32 of 64 lanes;") } != nil, "\(worker.stderr)")
        }
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        var lines = ""
        lines.reserveCapacity(records * 32)
        for seq in 0..<records { lines += #"{"uid":"p\#(seq % people)","seq":\#(seq)}"# + "\n" }
        let input = try tmp.write("backfill.jsonl", lines)
        let spooled = try Binary.run(
            ["run", rules, input, "--spool", spool], environment: environment, directory: tmp.path, timeout: 240)
        #expect(spooled.status == 0, "\(spooled.stderr)")
        #expect(
            spooled.stderr.contains(
                "50000 records: 50000 with events, 0 skipped, 0 failed; 50000 events; 50000 spooled in"),
            "\(spooled.stderr)")
        try #require(
            await eventually("all 50k events delivered", timeout: .seconds(240), interval: .milliseconds(500)) {
                recordedCount(mock) >= records
            })
        let delivered = deliveredSeqs(mock)
        #expect(delivered.count == people)
        var repeats = 0
        for (person, seqs) in delivered {
            repeats += checkOrder(seqs, of: person) { _ in false }
        }
        #expect(repeats == 0)
        #expect(delivered.values.reduce(0) { $0 + $1.count } == records)
        for worker in workers {
            worker.signal(SIGTERM)
            #expect(worker.wait() == 0, "\(worker.stderr)")
        }
        // Both workers delivered a share (each holds lanes).
        for worker in workers {
            let last = worker.stderr.split(separator: "\n").last { $0.hasPrefix("deliver: stopped: ") }
            #expect(last != nil && !(last!.hasPrefix("deliver: stopped: 0 delivered")), "\(worker.stderr)")
        }
    }

    // MARK: A backfill killed and run again

    /// `run --spool` killed with `kill -9` part-way through, then run again with the same command:
    /// the second run spools only what the first had not committed, so the spool holds each
    /// record's events exactly once.
    @Test(.timeLimit(.minutes(3)))
    func aBackfillKilledPartWayAndRunAgainSpoolsEveryRecordOnce() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let database = try cluster.createDatabase()
        let spool = cluster.url(database: database)
        let records = 20_000
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        var lines = ""
        for seq in 0..<records { lines += #"{"uid":"p\#(seq % 100)","seq":\#(seq)}"# + "\n" }
        _ = try tmp.write("backfill.jsonl", lines)
        // The same command twice, from the same folder: the records' sources match.
        let arguments = ["run", rules, "backfill.jsonl", "--spool", spool]
        let first = try Binary.launch(arguments, environment: environment, directory: tmp.path)
        let count = "SELECT count(*) FROM encharge_spool.event"
        try #require(
            await eventually("the first run commits some records", timeout: .seconds(60), interval: .milliseconds(20)) {
                (Int((try? cluster.sql(count, in: database)) ?? "") ?? 0) > 0
            })
        first.kill9()
        let committed = try #require(Int(try cluster.sql(count, in: database)))
        try #require(committed < records, "the kill came part-way (\(committed) of \(records) committed)")

        let again = try Binary.run(arguments, environment: environment, directory: tmp.path, timeout: 120)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            again.stderr.contains(
                "; \(records) events; \(records - committed) spooled, \(committed) already spooled by an earlier run in "
            ),
            "\(again.stderr)")
        #expect(try cluster.sql(count, in: database) == "\(records)")
        #expect(
            try cluster.sql(
                "SELECT count(*) FROM (SELECT DISTINCT wire FROM encharge_spool.event) AS once", in: database)
                == "\(records)", "no record's event is spooled twice")
    }

    // MARK: A second Ctrl-C

    /// The first SIGINT gives requests on the wire `--drain-timeout`; a second one ends `deliver`
    /// at once (130) without waiting for them.
    @Test(.timeLimit(.minutes(2)))
    func aSecondCtrlCEndsDeliverAtOnce() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = tmp.file("spool.sqlite")
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        var lines = ""
        for seq in 0..<20 { lines += #"{"uid":"p\#(seq)","seq":\#(seq)}"# + "\n" }
        let input = try tmp.write("in.jsonl", lines)
        let spooled = try Binary.run(["run", rules, input, "--spool", spool], directory: tmp.path, timeout: 60)
        try #require(spooled.status == 0, "\(spooled.stderr)")
        let mock = try MockIngestProcess(["--write-key", Self.writeKey, "--latency-ms", "30000"], in: tmp)
        defer { mock.kill9() }
        let worker = try startDeliver(spool: spool, tmp, mock, ["--drain-timeout", "60"])
        defer { worker.kill9() }
        try #require(
            worker.waitForLine(on: .stderr) { $0.hasPrefix("deliver: ") && !$0.contains(" 0 in flight;") } != nil,
            "requests on the wire: \(worker.stderr)")
        worker.signal(SIGINT)
        try #require(worker.waitForLine(on: .stderr) { $0.hasPrefix("stopping: ") } != nil, "\(worker.stderr)")
        let clock = ContinuousClock()
        let second = clock.now
        worker.signal(SIGINT)
        #expect(worker.waitForExit(timeout: 5), "the drain (up to 60 s) is not waited for")
        #expect(clock.now - second < .seconds(5))
        #expect(worker.wait() == 130, "\(worker.stderr)")
        #expect(
            worker.stderr.hasSuffix(
                "warning: stopping now (second signal); events on the wire stay pending and the worker that takes their lane sends them\n"
            ), "\(worker.stderr)")
    }

    // MARK: A refused write key

    /// While the Ingest API refuses the write key, `deliver` says so once, keeps the events pending
    /// (none dead) and tries again every `--key-retry-interval`; once the key is accepted it
    /// delivers them all.
    @Test(.timeLimit(.minutes(2)))
    func aRefusedWriteKeyPausesDeliverUntilTheKeyIsAccepted() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = tmp.file("spool.sqlite")
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        var lines = ""
        for seq in 0..<10 { lines += #"{"uid":"p","seq":\#(seq)}"# + "\n" }
        let input = try tmp.write("in.jsonl", lines)
        let spooled = try Binary.run(["run", rules, input, "--spool", spool], directory: tmp.path, timeout: 60)
        try #require(spooled.status == 0, "\(spooled.stderr)")
        let refusing = try MockIngestProcess(["--write-key", "the-key-the-account-has-now"], in: tmp)
        let port = try #require(URL(string: refusing.endpoint)?.port)
        let worker = try startDeliver(spool: spool, tmp, refusing, ["--key-retry-interval", "0.3"])
        defer { worker.kill9() }
        let message =
            "error: the Ingest API refused the write key (HTTP 401); check ENCHARGE_WRITE_KEY; delivery paused, trying again every 0.30 s"
        try #require(worker.waitForLine(on: .stderr) { $0 == message } != nil, "\(worker.stderr)")
        try #require(
            worker.waitForLine(on: .stderr) { $0.hasSuffix("; spool: 10 pending, 0 dead") } != nil,
            "the events stay pending, none dead: \(worker.stderr)")
        refusing.stop()
        let accepting = try MockIngestProcess(["--write-key", Self.writeKey, "--port", "\(port)"], in: tmp)
        defer { accepting.stop() }
        #expect(await eventually("delivery resumes") { deliveredSeqs(accepting)["p"] == Array(0..<10) })
        #expect(
            worker.waitForLine(on: .stderr) { $0 == "the Ingest API accepted the write key; delivery resumed" } != nil,
            "\(worker.stderr)")
        worker.signal(SIGTERM)
        #expect(worker.wait() == 0)
        #expect(worker.stderr.components(separatedBy: message).count == 2, "reported once: \(worker.stderr)")
    }

    // MARK: (e) A spool from a newer schema

    /// A spool whose schema a newer encharge-lua wrote is refused by `serve`, `deliver`, `run
    /// --spool` and `replay --spool` with one line and exit 2, and nothing in it is touched.
    @Test(.timeLimit(.minutes(2)))
    func aSpoolFromANewerSchemaVersionIsRefusedAndLeftUntouched() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let database = try cluster.createDatabase()
        let spool = cluster.url(database: database)
        let rules = try tmp.write(
            "rules.lua", #"function on_record(r) encharge.track("Step", { userId = r.uid }, { seq = r.seq }) end"#)
        let input = try tmp.write("in.jsonl", #"{"uid":"a","seq":1}"# + "\n")
        let created = try Binary.run(["run", rules, input, "--spool", spool], environment: environment, timeout: 60)
        try #require(created.status == 0, "\(created.stderr)")
        let known = try #require(
            Int(try cluster.sql("SELECT version FROM encharge_spool.schema_version", in: database)))
        let newer = known + 1
        try cluster.sql("UPDATE encharge_spool.schema_version SET version = \(newer)", in: database)
        let snapshot =
            "SELECT (SELECT count(*) FROM encharge_spool.event), (SELECT version FROM encharge_spool.schema_version)"
        let before = try cluster.sql(snapshot, in: database)
        #expect(before == "1|\(newer)")

        let refusal =
            "error: \(spool): was written by a newer encharge-lua (schema \(newer), this one knows \(known)); upgrade encharge-lua to open it\n"
        for command in [
            ["serve", rules, "--port", "0", "--spool", spool], ["deliver", "--spool", spool],
            ["run", rules, input, "--spool", spool], ["replay", "--spool", spool],
        ] {
            let result = try Binary.run(
                command, environment: environment, directory: tmp.path, removing: ["ENCHARGE_ENDPOINT"], timeout: 60)
            #expect(result.status == 2, "\(command[0]): \(result.stderr)")
            #expect(result.stderr == refusal, "\(command[0])")
        }
        #expect(try cluster.sql(snapshot, in: database) == before, "nothing in the spool was touched")
    }

    // MARK: The password is never shown

    /// A password in the URL is accepted and never printed (the listening line shows the URL
    /// without it), and a refused password from `--spool-password-file` is an exit 2 whose message
    /// does not contain it either.
    @Test(.timeLimit(.minutes(2)))
    func theSpoolPasswordIsNeverPrinted() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let database = try cluster.createDatabase()
        let rules = try tmp.write("rules.lua", Self.rule)
        let mock = try MockIngestProcess(["--write-key", Self.writeKey], in: tmp)
        defer { mock.stop() }
        let withPassword =
            "postgres://\(PostgresCluster.user):\(cluster.password)@\(cluster.host):\(cluster.port)/\(database)"
        let serve = try ServeProcess(
            ["serve", rules, "--port", "0", "--spool", withPassword, "--endpoint", mock.endpoint], in: tmp,
            environment: ["ENCHARGE_WRITE_KEY": Self.writeKey])
        defer { serve.kill9() }
        #expect(serve.stdout.contains("(spool \(cluster.url(database: database)))\n"), "\(serve.stdout)")
        #expect(try serve.postJSON("/", #"{"uid":"pw","seqs":[1]}"#).status == 202)
        await eventually("delivered") { deliveredSeqs(mock)["pw"] == [1] }
        #expect(serve.stop() == 0)
        #expect(!serve.output.contains(cluster.password), "serve printed the spool's password")

        let wrong = "not-the-password-\(UUID().uuidString)"
        let passwordFile = try tmp.write("pg-password.txt", wrong + "\n")
        chmod(passwordFile, 0o600)
        for command in [
            ["deliver", "--spool", cluster.url(database: database), "--spool-password-file", passwordFile],
            [
                "serve", rules, "--port", "0", "--spool", cluster.url(database: database), "--spool-password-file",
                passwordFile,
            ],
        ] {
            let result = try Binary.run(
                command, environment: ["ENCHARGE_WRITE_KEY": Self.writeKey], directory: tmp.path,
                removing: ["PGPASSWORD", "ENCHARGE_ENDPOINT"], timeout: 60)
            #expect(result.status == 2, "\(command[0]): \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: \(cluster.url(database: database)): "), "\(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains(wrong), "\(command[0]) printed the password")
        }
    }

    // MARK: serve --no-deliver beside deliver, on SQLite

    /// `serve --no-deliver` accepts without a write key and leaves the SQLite spool's owner lock
    /// free, so a `deliver` worker on the same file takes it and sends what serve accepted; a second
    /// worker is refused while the first delivers.
    @Test(.timeLimit(.minutes(2)))
    func serveNoDeliverAcceptsAndADeliverWorkerOnTheSameSQLiteSpoolSends() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.cleanup() }
        let spool = tmp.file("spool.sqlite")
        let rules = try tmp.write("rules.lua", Self.rule)
        let mock = try MockIngestProcess(["--write-key", Self.writeKey], in: tmp)
        defer { mock.stop() }
        let serve = try ServeProcess(
            ["serve", rules, "--port", "0", "--spool", spool, "--no-deliver"], in: tmp, environment: [:])
        defer { serve.kill9() }
        #expect(try serve.postJSON("/", #"{"uid":"sq","seqs":[1,2]}"#).status == 202)
        let metrics = try serve.send("GET", "/metrics")
        #expect(metrics.text.contains("encharge_spool_depth 2"), "\(metrics.text)")
        #expect(
            !metrics.text.contains("encharge_events_delivered_total"),
            "a serve that does not deliver counts no deliveries")
        let worker = try startDeliver(spool: spool, tmp, mock)
        defer { worker.kill9() }
        #expect(await eventually("deliver sends what serve accepted") { deliveredSeqs(mock)["sq"] == [1, 2] })
        let second = try Binary.run(
            ["deliver", "--spool", spool, "--endpoint", mock.endpoint], environment: environment, directory: tmp.path,
            timeout: 30)
        #expect(second.status == 2)
        // The holder is named as what it is: a deliver, not a serve.
        #expect(
            second.stderr
                == "error: \(spool): is in use by another encharge-lua deliver (pid \(worker.process.processIdentifier)); stop that one first, or give this one its own --spool\n",
            "\(second.stderr)")
        worker.signal(SIGTERM)
        #expect(worker.wait() == 0, "\(worker.stderr)")
        #expect(serve.stop() == 0)
    }
}
