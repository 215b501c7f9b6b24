import EnchargeRules
import Foundation
import Synchronization
import SystemKit
import TestSupport
import Testing

@testable import WebhookServer

/// The rule pool answers every request it accepted, and its stop waits for them and joins its
/// worker threads.
@Suite struct RulePoolTests {
    static func request(_ seq: Int) -> WebhookRequest {
        WebhookRequest(
            id: "req_\(seq)", method: "POST", path: "/", query: [], headers: [("content-type", "application/json")],
            body: Array(#"{"seq":\#(seq)}"#.utf8), remoteIP: nil)
    }

    @Test func stopAnswersTheQueuedRequestsAndJoinsTheWorkers() async throws {
        let directory = try TemporaryDirectory(prefix: "pool")
        defer { directory.cleanup() }
        // Each call keeps its worker busy for a while, so requests queue behind the one running.
        let rules = try directory.write(
            "rules.lua",
            """
            function on_webhook(req)
              local n = 0
              for i = 1, 1e7 do n = n + 1 end
              return { status = 200, body = tostring(req.json.seq) }
            end
            """)
        let pool = try RulePool(options: RuleOptions(rulesPath: rules), size: 1, maxWaiting: 16)
        let answers = try await withThrowingTaskGroup(of: String?.self) { group in
            for seq in 1...4 {
                group.addTask {
                    guard case .handled(_, let response)? = await pool.run(Self.request(seq))?.outcome else {
                        return nil
                    }
                    return response.map { String(decoding: $0.body, as: UTF8.self) }
                }
            }
            // Stop while requests are queued: it returns once they are answered and the worker ended.
            #expect(
                await eventually("four requests running or queued", interval: .milliseconds(1)) { pool.load >= 4 })
            let stopped = Mutex(false)
            let stopper = try #require(
                JoinableThread.start {
                    pool.stop()
                    stopped.withLock { $0 = true }
                })
            var answers: [String?] = []
            for try await answer in group { answers.append(answer) }
            stopper.join()
            #expect(stopped.withLock { $0 })
            return answers
        }
        #expect(answers.compactMap { $0 }.sorted() == ["1", "2", "3", "4"], "\(answers)")
        #expect(pool.workerThreads == 0, "stop joined and forgot every worker")
    }
}
