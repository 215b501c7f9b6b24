import JSONKit

extension EventListDiff {
    /// One step through the two lists: an event on both sides (compared field by field), or on
    /// one side only. Indexes are into the expected and the actual list.
    enum Step: Equatable {
        case paired(expected: Int, actual: Int)
        case onlyExpected(Int)
        case onlyActual(Int)
    }

    /// Pairs events by name along a longest common subsequence, so an event added or removed
    /// before others shows as that one event rather than as every later event changed. Where the
    /// pairing could go either way, the expected side's extra events come first (as in a diff).
    static func alignment(expected: [JSONValue], actual: [JSONValue]) -> [Step] {
        let expectedKeys = expected.map(pairingKey)
        let actualKeys = actual.map(pairingKey)
        // Common ends need no table; most lists differ in a field or two, not in their events.
        var head = 0
        while head < expected.count, head < actual.count, expectedKeys[head] == actualKeys[head] { head += 1 }
        var tail = 0
        while tail < expected.count - head, tail < actual.count - head,
            expectedKeys[expected.count - 1 - tail] == actualKeys[actual.count - 1 - tail]
        {
            tail += 1
        }
        let rows = expected.count - head - tail
        let columns = actual.count - head - tail
        // common[i][j]: the longest common run of expected[head + i...] and actual[head + j...].
        var common = [Int](repeating: 0, count: (rows + 1) * (columns + 1))
        func at(_ i: Int, _ j: Int) -> Int { i * (columns + 1) + j }
        for i in stride(from: rows - 1, through: 0, by: -1) {
            for j in stride(from: columns - 1, through: 0, by: -1) {
                common[at(i, j)] =
                    expectedKeys[head + i] == actualKeys[head + j]
                    ? common[at(i + 1, j + 1)] + 1 : max(common[at(i + 1, j)], common[at(i, j + 1)])
            }
        }
        var steps = (0..<head).map { Step.paired(expected: $0, actual: $0) }
        var (i, j) = (0, 0)
        while i < rows || j < columns {
            if i < rows, j < columns, expectedKeys[head + i] == actualKeys[head + j] {
                steps.append(.paired(expected: head + i, actual: head + j))
                (i, j) = (i + 1, j + 1)
            } else if i < rows, j == columns || common[at(i + 1, j)] >= common[at(i, j + 1)] {
                steps.append(.onlyExpected(head + i))
                i += 1
            } else {
                steps.append(.onlyActual(head + j))
                j += 1
            }
        }
        for k in 0..<tail {
            steps.append(.paired(expected: expected.count - tail + k, actual: actual.count - tail + k))
        }
        return steps
    }

    /// What pairs two events: their name (`identify` for identify events); a value that is not an
    /// event with a name pairs only with an equal value.
    private static func pairingKey(_ event: JSONValue) -> String {
        if case .string(let name)? = event["name"] { return "name:" + name }
        return "value:" + event.encoded()
    }
}
