import SystemKit

/// "Did you mean" for misspelt keys. Only runs after a check has already failed.
extension EventValidator {
    /// The candidate closest to `key`, if it is close enough to be a plausible typo: at most one
    /// edit for short candidates and about one edit per three characters for longer ones, ignoring
    /// ASCII case (so `sourceIP` suggests `sourceIp`). Ties go to the earlier candidate.
    static func closestKey(to key: String, among candidates: [String]) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != key {
            let allowed = max(1, candidate.utf8.count / 3)
            let distance = EditDistance.between(key, candidate, limit: allowed, ignoringASCIICase: true)
            if distance <= allowed, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }
}
