import JSONKit
import Testing

@testable import EnchargeCommands

/// The event-list diff lines `test` prints for a failing fixture and `diff` for a changed input.
@Suite struct EventListDiffTests {
    private func events(_ lines: String...) throws -> [JSONValue] { try lines.map { try JSONValue(parsing: $0) } }

    @Test func changedFieldIsOneLineByPath() throws {
        let diff = EventListDiff(
            expected: try events(
                #"{"name":"identify","user":{"email":"a@x.com"}}"#,
                #"{"name":"Started subscription","user":{"email":"a@x.com"},"properties":{"plan":"pro","seats":2}}"#),
            actual: try events(
                #"{"name":"identify","user":{"email":"a@x.com"}}"#,
                #"{"name":"Started subscription","user":{"email":"a@x.com"},"properties":{"plan":"free","seats":2.0}}"#
            ))
        #expect(diff.lines(wording: .expectedGot) == [#"events[1].properties.plan: expected "pro", got "free""#])
        #expect(diff.lines(wording: .wasNow, prefix: "  ") == [#"  events[1].properties.plan: was "pro", now "free""#])
    }

    @Test func wholeEventsOnOneSideAreNamed() throws {
        let identify = #"{"name":"identify","user":{"email":"a@x.com","firstName":"Ada","userId":"7"}}"#
        let signedUp = #"{"name":"Signed up","user":{"email":"a@x.com"}}"#
        let paid = #"{"name":"Paid invoice","user":{"userId":"7"},"properties":{"amount":12}}"#
        let missing = EventListDiff(expected: try events(signedUp, identify), actual: try events(signedUp))
        #expect(
            missing.lines(wording: .expectedGot) == [#"events[1]: missing identify {"email":"a@x.com","userId":"7"}"#])
        #expect(missing.lines(wording: .wasNow) == [#"events[1]: removed identify {"email":"a@x.com","userId":"7"}"#])

        let unexpected = EventListDiff(expected: try events(signedUp), actual: try events(signedUp, paid, identify))
        #expect(
            unexpected.lines(wording: .expectedGot) == [
                #"events[1]: unexpected event "Paid invoice""#,
                #"events[2]: unexpected identify {"email":"a@x.com","userId":"7"}"#,
            ])
        #expect(
            unexpected.lines(wording: .wasNow) == [
                #"events[1]: added event "Paid invoice""#,
                #"events[2]: added identify {"email":"a@x.com","userId":"7"}"#,
            ])
    }

    @Test func fieldsOnOneSideShowTheirValue() throws {
        let diff = EventListDiff(
            expected: try events(#"{"name":"A","user":{"email":"a@x.com"},"properties":{"coupon":"X1"}}"#),
            actual: try events(#"{"name":"A","user":{"email":"a@x.com","tags":"vip"}}"#))
        #expect(
            diff.lines(wording: .expectedGot) == [
                #"events[0].properties: missing {"coupon":"X1"}"#,
                #"events[0].user.tags: unexpected "vip""#,
            ])
        #expect(
            diff.lines(wording: .wasNow) == [
                #"events[0].properties: removed {"coupon":"X1"}"#,
                #"events[0].user.tags: added "vip""#,
            ])
    }

    /// An identify added in front of a changed track: one added event and the track's one field,
    /// not every later event changed.
    @Test func eventsArePairedByNameSoAnInsertedEventIsOneLine() throws {
        let diff = EventListDiff(
            expected: try events(
                #"{"name":"Paid invoice","user":{"email":"a@x.com"},"properties":{"amount":1200}}"#,
                #"{"name":"Upgraded","user":{"email":"a@x.com"}}"#),
            actual: try events(
                #"{"name":"identify","user":{"email":"a@x.com"}}"#,
                #"{"name":"Paid invoice","user":{"email":"a@x.com"},"properties":{"amount":12}}"#,
                #"{"name":"Upgraded","user":{"email":"a@x.com"}}"#))
        #expect(
            diff.lines(wording: .wasNow) == [
                #"events[0]: added identify {"email":"a@x.com"}"#, "events[1].properties.amount: was 1200, now 12",
            ])
    }

    @Test func aRemovedEventIsShownAtItsExpectedIndexAndTheRestAtTheirActualOne() throws {
        let diff = EventListDiff(
            expected: try events(
                #"{"name":"identify","user":{"email":"a@x.com"}}"#, #"{"name":"A","user":{"email":"a@x.com"}}"#,
                #"{"name":"B","user":{"email":"a@x.com"},"properties":{"n":1}}"#),
            actual: try events(
                #"{"name":"identify","user":{"email":"a@x.com"}}"#,
                #"{"name":"B","user":{"email":"a@x.com"},"properties":{"n":2}}"#))
        #expect(
            diff.lines(wording: .expectedGot) == [
                #"events[1]: missing event "A""#, "events[1].properties.n: expected 1, got 2",
            ])
    }

    @Test func eventsWithOtherNamesAtOnePlaceAreOneRemovedAndOneAdded() throws {
        let diff = EventListDiff(
            expected: try events(
                #"{"name":"A","user":{"email":"a@x.com"}}"#, #"{"name":"C","user":{"email":"a@x.com"}}"#),
            actual: try events(#"{"name":"B","user":{"email":"a@x.com"}}"#, #"{"name":"C","user":{"email":"a@x.com"}}"#)
        )
        #expect(diff.lines(wording: .wasNow) == [#"events[0]: removed event "A""#, #"events[0]: added event "B""#])
    }

    /// The alignment itself: the longest run of names in order is paired, extra expected events first.
    @Test func alignmentPairsTheLongestRunOfNamesInOrder() {
        func named(_ names: String...) -> [JSONValue] { names.map { ["name": .string($0), "user": [:]] } }
        #expect(
            EventListDiff.alignment(expected: named("A", "B", "C", "D"), actual: named("A", "C", "X", "D", "E")) == [
                .paired(expected: 0, actual: 0), .onlyExpected(1), .paired(expected: 2, actual: 1), .onlyActual(2),
                .paired(expected: 3, actual: 3), .onlyActual(4),
            ])
        #expect(
            EventListDiff.alignment(expected: named("A", "B"), actual: named("B", "A")) == [
                .onlyExpected(0), .paired(expected: 1, actual: 0), .onlyActual(1),
            ])
        #expect(EventListDiff.alignment(expected: [], actual: named("A")) == [.onlyActual(0)])
        #expect(EventListDiff.alignment(expected: named("A"), actual: []) == [.onlyExpected(0)])
    }

    @Test func anIdentifyWithoutEmailOrUserIdShowsItsWholeUserAndANonEventItsJSON() throws {
        let diff = EventListDiff(
            expected: [], actual: try events(#"{"name":"identify","user":{"phone":"1"}}"#, "42", #"{"name":7}"#))
        #expect(
            diff.lines(wording: .expectedGot) == [
                #"events[0]: unexpected identify {"phone":"1"}"#, "events[1]: unexpected 42",
                #"events[2]: unexpected {"name":7}"#,
            ])
    }

    @Test func matchingListsHaveNoLines() throws {
        let list = try events(#"{"name":"A","user":{"email":"a@x.com"},"properties":{"n":1}}"#)
        let diff = EventListDiff(
            expected: list, actual: try events(#"{"name":"A","user":{"email":"a@x.com"},"properties":{"n":1.0}}"#))
        #expect(diff.isEmpty)
        #expect(diff.lines(wording: .expectedGot).isEmpty)
        #expect(EventListDiff(expected: [], actual: []).isEmpty)
    }

    @Test func valuesCannotDriveTheTerminalOrFloodIt() {
        let diff = EventListDiff(
            expected: [["name": "A", "user": ["email": "a@x.com"], "properties": ["note": "ok", "blob": "x"]]],
            actual: [
                [
                    "name": "A", "user": ["email": "a@x.com"],
                    "properties": [
                        "note": "\u{7F}\u{9B}2J\u{1B}", "blob": .string(String(repeating: "y", count: 5000)),
                    ],
                ]
            ])
        let lines = diff.lines(wording: .expectedGot)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix(#"events[0].properties.blob: expected "x", got "yyyy"#))
        #expect(lines[0].utf8.count <= 4096)
        #expect(lines[0].hasSuffix(" bytes more)"))
        #expect(lines[1] == #"events[0].properties.note: expected "ok", got "\u007f\u009b2J\u001b""#)
    }
}
