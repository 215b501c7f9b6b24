import Glibc
import SystemKit
import Testing

@Suite struct SystemClockTests {
    @Test("the monotonic clock never goes back and its two units agree")
    func monotonic() {
        var last = SystemClock.monotonicNanoseconds()
        for _ in 0..<1000 {
            let now = SystemClock.monotonicNanoseconds()
            #expect(now >= last)
            last = now
        }
        let seconds = SystemClock.monotonicSeconds()
        let nanoseconds = SystemClock.monotonicNanoseconds()
        #expect(abs(Double(nanoseconds) / 1e9 - seconds) < 1)
    }

    @Test("the wall clock reads the Unix time")
    func wall() {
        let before = time(nil)
        let now = SystemClock.wallSeconds()
        let after = time(nil)
        #expect(now >= Double(before) && now < Double(after) + 1)
    }

    @Test("sleep waits at least the time asked on the monotonic clock, and returns at once for none")
    func sleepWaitsTheWholeTime() {
        let start = SystemClock.monotonicNanoseconds()
        SystemClock.sleep(seconds: 0.02)
        #expect(SystemClock.monotonicNanoseconds() - start >= 20_000_000)
        let again = SystemClock.monotonicNanoseconds()
        SystemClock.sleep(seconds: 0)
        SystemClock.sleep(seconds: -1)
        #expect(SystemClock.monotonicNanoseconds() - again < 20_000_000)
    }
}
