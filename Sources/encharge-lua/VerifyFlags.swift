import ArgumentParser
import EnchargeCommands
import EnchargeRules
import WebhookSignatures

/// The flags that check a webhook's signature before the rule runs: `serve` checks every request
/// with them, and `test` answers its webhook fixtures the same way.
struct VerifyFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Check this signature scheme on every request before the rule runs: stripe, github, shopify, standard or hmac.",
            valueName: "scheme"))
    var verify: String?

    @Option(help: ArgumentHelp("File holding the signing secret for --verify.", valueName: "path"))
    var secretFile: String?

    @Option(help: ArgumentHelp("Header carrying the signature for --verify hmac.", valueName: "name"))
    var hmacHeader = "x-signature"

    func validate() throws {
        if let verify {
            guard WebhookScheme(rawValue: verify) != nil else {
                throw ValidationError("--verify must be stripe, github, shopify, standard or hmac")
            }
            guard secretFile != nil else {
                throw ValidationError("--verify needs --secret-file PATH with the signing secret")
            }
        } else if secretFile != nil {
            // A secret nothing checks would leave the requests unverified while looking verified.
            throw ValidationError(
                "--secret-file is the signing secret for --verify; add --verify SCHEME (stripe, github, shopify, standard or hmac) or drop --secret-file"
            )
        }
    }

    /// The scheme `--verify` names.
    var scheme: WebhookScheme? { verify.flatMap(WebhookScheme.init(rawValue:)) }

    /// The secret in `--secret-file`, nil without it; a file that cannot be read is a
    /// configuration error (`warn` receives the warning about a file others can read).
    func secret(warn: (String) -> Void) throws(RuleLoadError) -> String? {
        guard let secretFile else { return nil }
        return try SecretFile.read(secretFile, flag: "--secret-file", warn: warn)
    }

    /// The verification options: the default tolerance, and `--hmac-header` for the hmac scheme.
    var options: WebhookVerificationOptions {
        var options = WebhookVerificationOptions()
        options.hmac.header = hmacHeader.lowercased()
        return options
    }
}
