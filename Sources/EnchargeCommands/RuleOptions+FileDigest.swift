import EnchargeRules
import SystemKit
import WebhookSignatures

extension RuleOptions {
    /// SHA-256 of the rules file, in lower-case hex, recorded in dead-letter entries so a replay can
    /// tell which version of the rule failed; nil when the file cannot be read.
    package var rulesFileSHA256: String? {
        guard let bytes = try? FileReader.read(rulesPath) else { return nil }
        return WebhookCrypto.sha256Hex(bytes)
    }
}
