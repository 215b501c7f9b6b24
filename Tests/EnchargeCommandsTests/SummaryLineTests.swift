import Testing

@testable import EnchargeCommands

/// The summary line a run, a replay and `check --input` end with.
@Suite struct SummaryLineTests {
    @Test func summaryShowsOutcomesThatAddUp() {
        var summary = MappingSummary()
        summary.records = 7
        summary.countMapped(events: 3)
        summary.countMapped(events: 0)
        summary.countMapped(events: 0)
        summary.skipped = 1
        summary.failed = 2
        summary.refused = 1
        #expect(summary.mapped + summary.withoutEvents + summary.skipped + summary.failed + summary.refused == 7)
        summary.seconds = 2
        #expect(
            summaryLine(summary, stats: nil, interrupted: false) == "done: 7 records: 1 with events, 2 with none, "
                + "1 skipped, 2 failed, 1 refused (dry run); 3 events in 2.00 s (4 records/s)")
    }

    /// A run the delivery engine stopped (a refused write key, a redirect) is neither done nor
    /// interrupted by the user.
    @Test func summaryOfAStoppedRunSaysStopped() {
        var summary = MappingSummary()
        summary.records = 1
        summary.countMapped(events: 1)
        #expect(summaryLine(summary, stats: nil, interrupted: false, stopped: true).hasPrefix("stopped: 1 record: "))
        #expect(summaryLine(summary, stats: nil, interrupted: true, stopped: true).hasPrefix("interrupted: "))
    }

    @Test func aReplaySummaryCountsEntriesAndAnInputThatStoppedIsNamed() {
        var summary = MappingSummary()
        summary.records = 1
        summary.countMapped(events: 1)
        summary.inputErrors = ["in.csv:3: error: gone"]
        summary.seconds = 0.5
        #expect(
            summaryLine(summary, stats: nil, interrupted: false, title: "replay ", noun: ("entry", "entries"))
                == "replay done: 1 entry: 1 with events, 0 skipped, 0 failed; 1 event; 1 input not read to the end "
                + "in 0.50 s (2 entries/s)")
    }
}
