import SystemKit
import Testing

/// `AvailableProcessors`: the default of `run --jobs` follows the CPU affinity mask.
@Suite struct AvailableProcessorsTests {
    @Test(arguments: [
        ("Name:\tx\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\n", 8),
        ("Cpus_allowed:\t00000000,00000005\n", 2),
        ("Cpus_allowed:\t1\n", 1),
    ])
    func countsTheBitsOfTheAllowedMask(_ status: String, _ expected: Int) {
        #expect(AvailableProcessors.allowedCount(status: status) == expected)
    }

    @Test func noMaskLineGivesNil() {
        #expect(AvailableProcessors.allowedCount(status: "Name:\tx\n") == nil)
    }
}
