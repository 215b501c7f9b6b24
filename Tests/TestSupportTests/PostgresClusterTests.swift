import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The throwaway PostgreSQL cluster starts as an unprivileged user, answers SQL in fresh
/// databases behind its password, and leaves nothing behind when stopped.
@Suite struct PostgresClusterTests {
    @Test func aClusterServesFreshDatabasesAndIsGoneOnceStopped() async throws {
        let (folder, pid) = try await PostgresCluster.with { cluster in
            #expect(FileManager.default.fileExists(atPath: cluster.socketDirectory + "/.s.PGSQL.\(cluster.port)"))
            let first = try cluster.createDatabase()
            let second = try cluster.createDatabase()
            #expect(first != second)
            #expect(cluster.url(database: first) == "postgres://encharge@127.0.0.1:\(cluster.port)/\(first)")
            try cluster.sql("CREATE TABLE t (n int); INSERT INTO t VALUES (41), (1)", in: first)
            #expect(try cluster.sql("SELECT sum(n) FROM t", in: first) == "42")
            #expect(throws: PostgresCluster.Failure.self) { try cluster.sql("SELECT n FROM t", in: second) }
            #expect(try cluster.sql("SHOW synchronous_commit", in: first) == "on")
            let status = try String(contentsOfFile: "/proc/\(cluster.serverProcessIdentifier)/status", encoding: .utf8)
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
            #expect(uid?.split(separator: "\t").dropFirst().first.map(String.init) != "0", "postgres runs unprivileged")
            return (cluster.folder, cluster.serverProcessIdentifier)
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(kill(pid, 0) == -1, "the postmaster has exited")
    }

    @Test func theSharedClusterIsStartedOnce() throws {
        let first = try PostgresCluster.shared()
        let second = try PostgresCluster.shared()
        #expect(first === second)
        #expect(try first.sql("SELECT 1", in: "postgres") == "1")
    }
}
