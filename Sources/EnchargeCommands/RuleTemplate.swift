/// A working start for a rule, which `encharge-lua init` writes into a folder: one folder of the
/// repository's examples/ (its `rules.lua`, `fixtures/`, samples and `README.md`). The files are
/// embedded in the binary at build time (`embeddedFiles`, generated from examples/ by the
/// EmbedTemplates plugin), so an installed encharge-lua needs no source tree.
package struct RuleTemplate: Sendable {
    /// One file of a template.
    package struct File: Sendable {
        /// Where it goes, relative to the folder `init` writes into: `rules.lua`, `fixtures/x.json`.
        package var path: String
        /// Whether it is a script to run (`send-sample.sh`), written with mode 755.
        package var executable: Bool
        /// Its exact text.
        package var contents: String
    }

    /// The name `--template` takes, which is also its folder under examples/.
    package var name: String
    /// What the rule maps, in a few words (at most 60 characters), for `init --help`.
    package var summary: String
    /// Every file, `rules.lua` and `README.md` first and the fixtures last.
    package var files: [File]

    init(name: String, summary: String) {
        self.name = name
        self.summary = summary
        files = Self.embeddedFiles[name] ?? []
    }

    /// Every template, in the order `--help` lists them.
    package static let all: [RuleTemplate] = [
        RuleTemplate(name: "signups", summary: "sign-up exports (JSON lines, CSV): identify, Registered user"),
        RuleTemplate(name: "stripe", summary: "Stripe customers, checkouts, paid invoices and cancellations"),
        RuleTemplate(name: "github", summary: "GitHub stars: Starred repository"),
        RuleTemplate(name: "shopify", summary: "Shopify orders/create: identify, Placed order with line items"),
        RuleTemplate(name: "form", summary: "an HTML form post: identify, Form Submitted"),
    ]

    /// The template called `name`, if there is one.
    package static func named(_ name: String) -> RuleTemplate? {
        all.first { $0.name == name }
    }

    /// `signups, stripe, github, shopify or form`.
    package static var names: String {
        let names = all.map(\.name)
        return names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }
}
