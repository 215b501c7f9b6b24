#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How many processors this process may run on: the online ones, fewer when its CPU affinity
/// (`taskset`, a container's cpuset) allows fewer. The default of `run --jobs`.
package enum AvailableProcessors {
    package static var count: Int {
        let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // Glibc's sched_getaffinity needs _GNU_SOURCE, which Swift's Glibc module is not built
        // with; the kernel shows the same mask as `Cpus_allowed:` in /proc/self/status.
        guard let status = try? FileReader.read("/proc/self/status"),
            let allowed = allowedCount(status: String(decoding: status, as: UTF8.self)), allowed > 0
        else { return online }
        return min(online, allowed)
    }

    /// The processors the `Cpus_allowed:` mask of a /proc status text allows (hex words such as
    /// `ff` or `00000000,0000000f`), nil when the text has no such line.
    package static func allowedCount(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            return line.dropFirst("Cpus_allowed:".count).reduce(0) { count, character in
                count + (character.hexDigitValue?.nonzeroBitCount ?? 0)
            }
        }
        return nil
    }
}
