import SystemKit
import Testing

@Suite struct EditDistanceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var a: String
        var b: String
        var distance: Int
        var testDescription: String { "\(a) → \(b)" }
    }

    @Test(
        "distance counts insertions, deletions, substitutions and adjacent transpositions",
        arguments: [
            Case(a: "", b: "", distance: 0),
            Case(a: "", b: "abc", distance: 3),
            Case(a: "abc", b: "", distance: 3),
            Case(a: "on_record", b: "on_record", distance: 0),
            Case(a: "on_recrd", b: "on_record", distance: 1),
            Case(a: "on_records", b: "on_record", distance: 1),
            Case(a: "on_rekord", b: "on_record", distance: 1),
            Case(a: "propreties", b: "properties", distance: 1),
            Case(a: "kitten", b: "sitting", distance: 3),
            Case(a: "ca", b: "abc", distance: 3),
            Case(a: "Email", b: "email", distance: 1),
        ])
    func distance(_ testCase: Case) {
        #expect(EditDistance.between(testCase.a, testCase.b) == testCase.distance)
        #expect(EditDistance.between(testCase.b, testCase.a) == testCase.distance)
    }

    @Test("ignoring ASCII case folds A-Z only")
    func ignoringCase() {
        #expect(EditDistance.between("sourceIP", "sourceIp", ignoringASCIICase: true) == 0)
        #expect(EditDistance.between("sourceIP", "sourceIp") == 1)
        // É and é differ in more than ASCII case, so they stay different.
        #expect(EditDistance.between("É", "é", ignoringASCIICase: true) > 0)
    }

    @Test("a limit stops early when the lengths alone rule a match out")
    func limit() {
        #expect(EditDistance.between("a", "abcdef", limit: 2) == 3)
        #expect(EditDistance.between("abcdef", "a", limit: 4) == 5)
        // Within the limit the exact distance comes back.
        #expect(EditDistance.between("kitten", "sitting", limit: 3) == 3)
        #expect(EditDistance.between("kitten", "sitting", limit: 10) == 3)
    }
}
