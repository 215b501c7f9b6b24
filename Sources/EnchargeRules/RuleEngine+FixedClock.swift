import LuaKit

extension RuleEngine {
    /// Replaces `os.time` and `os.date` in the rule's `os` table with versions that read
    /// `now` where the standard ones read the system clock: `os.time()` returns it and
    /// `os.date(format)` formats it. An explicit argument (`os.time{...}`, `os.date(format, t)`)
    /// goes to the standard function unchanged. The process's clock is not touched.
    func installFixedClock(_ now: Int64) throws(RuleLoadError) {
        // `return (f(x))` is not a tail call, so an argument error still names `time` or `date`.
        let chunk = """
            local os, now = ...
            local time, date = os.time, os.date
            rawset(os, "time", function(t)
              if t == nil then return now end
              return (time(t))
            end)
            rawset(os, "date", function(format, t)
              if t == nil then t = now end
              return (date(format, t))
            end)
            """
        do {
            try state.load(Array(chunk.utf8), chunkName: "=sandbox")
            state.getGlobal("os")
            state.push(now)
            try state.call(arguments: 2, results: 0)
        } catch {
            // Only when the state is out of memory at creation; never run on the real clock instead.
            throw RuleLoadError("cannot fix the rule's clock: \(error.message)")
        }
        state.top = 0
    }
}
