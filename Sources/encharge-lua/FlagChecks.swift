import ArgumentParser

/// Range checks for numeric flags, so every out-of-range value is a usage error (exit 2) that
/// names the flag, instead of a crash (an overflowing conversion) or a silent wrap.
enum FlagChecks {
    /// A number of seconds: finite (no `inf`, no `nan`), above 0 (or at least 0 with
    /// `allowingZero`) and at most `maximum`.
    static func seconds(_ value: Double, _ flag: String, allowingZero: Bool = false, maximum: Double = 86_400) throws {
        let low = allowingZero ? value >= 0 : value > 0
        guard value.isFinite, low, value <= maximum else {
            throw ValidationError(
                "\(flag) takes seconds \(allowingZero ? "from 0" : "above 0") up to \(maximum.formatted), got \(value)")
        }
    }

    /// An integer in `range`.
    static func integer(_ value: Int, _ flag: String, _ range: ClosedRange<Int>, unit: String = "") throws {
        guard range.contains(value) else {
            throw ValidationError(
                "\(flag) must be between \(range.lowerBound) and \(range.upperBound)\(unit), got \(value)")
        }
    }

    /// A TCP port; 0 asks the system for a free one.
    static func port(_ value: Int, _ flag: String = "--port") throws {
        try integer(value, flag, 0...65535)
    }

    /// A probability.
    static func fraction(_ value: Double, _ flag: String) throws {
        guard value.isFinite, (0...1).contains(value) else {
            throw ValidationError("\(flag) takes a fraction from 0 to 1, got \(value)")
        }
    }
}

extension Double {
    /// `86400` rather than `86400.0`, for messages.
    fileprivate var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
