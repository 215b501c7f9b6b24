#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Request durations in logarithmic buckets (10% wide, 100 µs to about 15 minutes), so percentiles
/// cost fixed memory however many requests a run makes.
struct LatencyHistogram: Sendable {
    private static let smallest = 0.000_1
    private static let growth = 1.1
    private static let bucketCount = 170
    private var buckets = [Int](repeating: 0, count: bucketCount)
    private(set) var total = 0

    mutating func record(_ seconds: Double) {
        buckets[Self.bucket(seconds)] += 1
        total += 1
    }

    /// The upper bound of the bucket holding the `fraction` quantile (0...1), or 0 when empty.
    func quantile(_ fraction: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(1, Int((fraction * Double(total)).rounded(.up)))
        var seen = 0
        for (index, count) in buckets.enumerated() {
            seen += count
            if seen >= rank { return Self.upperBound(index) }
        }
        return Self.upperBound(Self.bucketCount - 1)
    }

    static func bucket(_ seconds: Double) -> Int {
        guard seconds > smallest else { return 0 }
        let index = Int((log(seconds / smallest) / log(growth)).rounded(.up))
        return min(max(index, 0), bucketCount - 1)
    }

    static func upperBound(_ index: Int) -> Double { smallest * pow(growth, Double(index)) }
}
