import ArgumentParser
import EnchargeCommands
import SystemKit

/// `encharge-lua init`: a working rule, its fixtures and a README to start from.
struct InitCommand: ParsableCommand, ContextCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a working rule, its fixtures and a README into a folder, from a template.",
        discussion: """
            Writes rules.lua, fixtures/ (which pass `encharge-lua test`), the template's samples \
            and a README.md with the commands to try, send and serve the rule. DIR is created if \
            missing. Nothing is ever overwritten: when any file of the template exists in DIR, \
            init writes nothing and says which.

            TEMPLATES
            \(RuleTemplate.all.map { "  " + $0.name + String(repeating: " ", count: 9 - $0.name.count) + $0.summary }
                .joined(separator: "\n"))

            EXIT CODES
              0    the files are written
              2    usage error (no --template, or an unknown one), a file of the
                   template already exists, or DIR cannot be written

            EXAMPLES
              encharge-lua init my-stripe --template stripe
              cd my-stripe && encharge-lua test rules.lua
              encharge-lua init --template signups
            """)

    @Argument(help: ArgumentHelp("The folder to write into; created if missing.", valueName: "DIR"))
    var directory: String = "."

    @Option(help: ArgumentHelp("The template: \(RuleTemplate.names).", valueName: "name"))
    var template: String?

    func validate() throws {
        guard let template else {
            throw ValidationError("--template is required: choose \(RuleTemplate.names) (see init --help)")
        }
        guard RuleTemplate.named(template) != nil else {
            let guess = RuleTemplate.all.map(\.name).first { EditDistance.between($0, template) <= 2 }
            throw ValidationError(
                "there is no template '\(template)'; choose \(RuleTemplate.names)"
                    + (guess.map { " (did you mean \($0)?)" } ?? ""))
        }
        guard !directory.isEmpty else { throw ValidationError("DIR must not be empty; omit it to write into .") }
    }

    func run() throws { try run(context: .process()) }

    func run(context: CommandContext) throws {
        // validate() has checked that the template exists.
        guard let template = template.flatMap(RuleTemplate.named) else { return }
        try initJob(directory: directory, template: template, context: context).exit()
    }
}
