import ArgumentParser
import EnchargeCommands
import RecordSources

/// How inputs are read: `--format` when the name does not tell, `--delimiter` (CSV) and
/// `--records-path` (JSON).
struct InputFlags: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Input format when it cannot be told from the file name: jsonl, json or csv.", valueName: "format"))
    var format: String?

    @Option(
        help: ArgumentHelp(
            "CSV field separator: one character such as ';' or '|', or tab (default ',').", valueName: "char"))
    var delimiter: String?

    @Option(
        help: ArgumentHelp(
            "Read the records from the array at this JSON pointer of a .json input, such as /data for a list response.",
            valueName: "pointer"))
    var recordsPath: String?

    /// The format `--format` names, if any.
    var explicitFormat: InputFormat? { format.flatMap(InputFormat.init(rawValue:)) }

    func validate() throws {
        if let format, InputFormat(rawValue: format) == nil {
            throw ValidationError("--format must be jsonl, json or csv, got '\(format)'")
        }
    }

    /// Checks that the format of each input path (`-` is stdin) can be told, from `--format` or its
    /// name, and that the flags fit those formats.
    func validate(paths: [String]) throws {
        for path in paths where path != "-" && format == nil && InputFormat(path: path) == nil {
            throw ValidationError(
                "cannot tell the format of '\(path)' from its name; name it .jsonl, .json or .csv, or pass --format")
        }
        try validate(formats: paths.map { explicitFormat ?? InputFormat(path: $0) ?? .jsonl })
    }

    /// The inputs at `paths` read as these flags say (stdin as JSON lines unless `--format` says
    /// otherwise); a records path that is not a JSON pointer exits 2, as `apply(to:context:)` says.
    func specs(paths: [String], context: CommandContext) throws -> [InputSpec] {
        try apply(
            to: paths.map { InputSpec(path: $0, format: explicitFormat ?? InputFormat(path: $0) ?? .jsonl) },
            context: context)
    }

    /// Checks the flags against the formats of the inputs they would apply to.
    func validate(formats: [InputFormat]) throws {
        if let delimiter {
            do { _ = try RecordReader.delimiter(named: delimiter) } catch { throw ValidationError(error.description) }
            guard formats.allSatisfy({ $0 == .csv }) else {
                throw ValidationError("--delimiter applies to CSV input only; name the file .csv or pass --format csv")
            }
        }
        if recordsPath != nil, !formats.allSatisfy({ $0 == .json }) {
            throw ValidationError(
                "--records-path applies to .json input only; name the file .json or pass --format json")
        }
    }

    /// `specs` with the delimiter and records path set; a records path that is not a JSON pointer
    /// is a usage error (exit 2) with a message that shows one, printed to `context`.
    func apply(to specs: [InputSpec], context: CommandContext) throws -> [InputSpec] {
        var specs = specs
        do {
            let byte = try delimiter.map(RecordReader.delimiter(named:)) ?? UInt8(ascii: ",")
            let pointer = try recordsPath.map(JSONPointer.init(parsing:))
            for i in specs.indices {
                specs[i].delimiter = byte
                specs[i].recordsPath = pointer
            }
        } catch {
            context.diagnostics.write("error: \(error.description)")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        return specs
    }
}
