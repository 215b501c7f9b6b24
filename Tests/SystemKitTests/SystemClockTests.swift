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
}
