import Testing

@testable import JSONKit

/// The path diff `test` and `diff` show: what differs, where, in a fixed order.
@Suite struct JSONDiffTests {
    /// Each difference as `path: change` text, to compare whole lists at once.
    private func rendered(_ expected: JSONValue, _ actual: JSONValue, at root: JSONPath = JSONPath()) -> [String] {
        JSONDiff(expected: expected, actual: actual, at: root).differences.map { difference in
            switch difference.change {
            case .changed(let e, let a): "\(difference.path): \(e.encoded()) -> \(a.encoded())"
            case .missing(let e): "\(difference.path): missing \(e.encoded())"
            case .unexpected(let a): "\(difference.path): unexpected \(a.encoded())"
            }
        }
    }

    private func parsed(_ text: String) throws -> JSONValue { try JSONValue(parsing: text) }

    @Test func equalDocumentsHaveNoDifferences() throws {
        let document = try parsed(#"{"a":[1,{"b":null}],"c":"x","d":true}"#)
        #expect(JSONDiff(expected: document, actual: document).isEmpty)
    }

    @Test func changedMissingAndUnexpectedMembersAreListedInKeyOrder() throws {
        let expected = try parsed(#"{"plan":"pro","email":"a@x.com","seats":3,"trial":{"days":14}}"#)
        let actual = try parsed(#"{"zone":"eu","plan":"free","trial":{"days":14,"ends":"soon"},"coupon":{"a":1}}"#)
        #expect(
            rendered(expected, actual) == [
                #"coupon: unexpected {"a":1}"#,
                #"email: missing "a@x.com""#,
                #"plan: "pro" -> "free""#,
                "seats: missing 3",
                #"trial.ends: unexpected "soon""#,
                #"zone: unexpected "eu""#,
            ])
    }

    @Test func arraysCompareByIndexAndReportExtraElementsAtTheirIndex() throws {
        #expect(
            rendered(try parsed(#"{"tags":["a","b","c"]}"#), try parsed(#"{"tags":["a","x"]}"#)) == [
                #"tags[1]: "b" -> "x""#, #"tags[2]: missing "c""#,
            ])
        #expect(
            rendered(try parsed("[[1],[2]]"), try parsed("[[1],[2,3],4]")) == [
                "[1][1]: unexpected 3", "[2]: unexpected 4",
            ])
    }

    @Test func keysThatAreNotPlainAreQuotedInBrackets() throws {
        let expected = try parsed(#"{"user":{"odd key":1,"a.b":2,"":3,"quote\"d":4,"first-name":5}}"#)
        let actual = try parsed(#"{"user":{"odd key":0,"a.b":0,"":0,"quote\"d":0,"first-name":0}}"#)
        #expect(
            rendered(expected, actual) == [
                #"user[""]: 3 -> 0"#,
                #"user["a.b"]: 2 -> 0"#,
                "user.first-name: 5 -> 0",
                #"user["odd key"]: 1 -> 0"#,
                #"user["quote\"d"]: 4 -> 0"#,
            ])
        #expect(JSONPath([.key("odd key"), .key("x"), .index(0)]).description == #"["odd key"].x[0]"#)
    }

    @Test func aValueOfAnotherKindIsOneChangeAtItsPath() throws {
        #expect(
            rendered(try parsed(#"{"a":{"b":1},"c":[1]}"#), try parsed(#"{"a":[1],"c":"1"}"#)) == [
                #"a: {"b":1} -> [1]"#, #"c: [1] -> "1""#,
            ])
        #expect(rendered(1, "1") == [#": 1 -> "1""#])
        #expect(rendered(nil, false) == [": null -> false"])
    }

    @Test func pathsStartAtTheGivenRoot() throws {
        #expect(
            rendered(try parsed(#"[{"p":1}]"#), try parsed(#"[{"p":2}]"#), at: JSONPath([.key("events")]))
                == ["events[0].p: 1 -> 2"])
    }

    /// Pairs that denote the same number although `JSONValue`'s `==` tells them apart.
    static let sameNumbers: [(JSONValue, JSONValue)] = [
        (.integer(1), .double(1)),
        (.integer(0), .double(-0.0)),
        (.integer(.min), .double(-9_223_372_036_854_775_808)),
        (.bigInteger("9223372036854775808"), .double(9_223_372_036_854_775_808)),
        (.bigInteger("10000000000000000000"), .double(1e19)),
        (.bigInteger("-18446744073709551616"), .double(-18_446_744_073_709_551_616)),
        (.bigInteger("9223372036854775807"), .integer(.max)),
    ]

    @Test(arguments: sameNumbers)
    func numbersThatDenoteTheSameValueMatch(a: JSONValue, b: JSONValue) {
        #expect(JSONDiff(expected: ["n": a], actual: ["n": b]).isEmpty)
        #expect(JSONDiff(expected: ["n": b], actual: ["n": a]).isEmpty)
    }

    /// Pairs of numbers that differ, some by less than a float can show after rounding.
    static let differentNumbers: [(JSONValue, JSONValue)] = [
        (.integer(1), .double(1.5)),
        (.integer(2), .integer(3)),
        (.integer(.max), .double(9_223_372_036_854_775_808)),
        (.bigInteger("10000000000000000001"), .double(1e19)),
        (.bigInteger("10000000000000000000"), .bigInteger("10000000000000000001")),
        (.bigInteger("9223372036854775808"), .integer(.max)),
        (.integer(1), .string("1")),
    ]

    @Test(arguments: differentNumbers)
    func numbersThatDifferAreReportedWithTheirOwnSpelling(a: JSONValue, b: JSONValue) {
        #expect(
            JSONDiff(expected: ["n": a], actual: ["n": b]).differences == [
                JSONDiff.Difference(path: JSONPath([.key("n")]), change: .changed(expected: a, actual: b))
            ])
    }

    @Test func integralFloatsBeyond64BitsSpellTheirExactDigits() {
        #expect(JSONDiff.exactIntegerDigits(of: 1e19) == "10000000000000000000")
        #expect(JSONDiff.exactIntegerDigits(of: 0x1p64) == "18446744073709551616")
        #expect(JSONDiff.exactIntegerDigits(of: -0x1p100) == "-1267650600228229401496703205376")
        #expect(JSONDiff.exactIntegerDigits(of: 1e300)?.count == 301)
        #expect(JSONDiff.exactIntegerDigits(of: 42) == "42")
        #expect(JSONDiff.exactIntegerDigits(of: 2.5) == nil)
    }
}
