import SystemKit

#if canImport(Glibc)
import Glibc
#endif

/// Runs `encharge-lua init`: writes every file of `template` into `directory` (created if
/// missing) and lists them on stdout with the command to try next. Nothing is overwritten: every
/// target is checked first, and when one exists, or a folder cannot be made, nothing is written
/// and the job returns `.usage`. A file that fails to write takes the files written before it
/// (and the folders made for them) away again, so a failed `init` leaves the folder as it was.
package func initJob(directory: String, template: RuleTemplate, context: CommandContext) -> ExitStatus {
    let diagnostics = context.diagnostics
    let folder = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    func shown(_ path: String) -> String {
        folder == "." ? path : folder.hasSuffix("/") ? folder + path : folder + "/" + path
    }

    let folders = [folder] + Set(template.files.compactMap { parentFolder(of: $0.path) }).sorted().map(shown)
    if let notAFolder = folders.first(where: { exists($0) && !isFolder($0) }) {
        diagnostics.write(
            "error: \(notAFolder) exists and is not a folder; give init a folder to write into (encharge-lua init my-rule --template \(template.name))"
        )
        return .usage
    }
    let taken = template.files.map { shown($0.path) }.filter(exists)
    if let first = taken.first {
        let more = taken.count == 1 ? "" : " (and \(taken.count - 1) more of the template's files)"
        diagnostics.write(
            "error: \(first)\(more) already \(taken.count == 1 ? "exists" : "exist"); init never overwrites a file, so choose a new folder (encharge-lua init my-rule --template \(template.name)) or move the file away"
        )
        return .usage
    }

    var made: [String] = []
    var written: [String] = []
    func undo() {
        for path in written.reversed() { unlink(path) }
        for path in made.reversed() { rmdir(path) }
    }
    for path in folders where !exists(path) {
        // Each missing ancestor too, as `mkdir -p` makes them.
        var ancestors: [String] = []
        var current: String? = path
        while let candidate = current, !candidate.isEmpty, !exists(candidate) {
            ancestors.append(candidate)
            current = parentFolder(of: candidate)
        }
        for ancestor in ancestors.reversed() {
            guard mkdir(ancestor, 0o755) == 0 else {
                let reason = String(cString: strerror(errno))
                undo()
                diagnostics.write(
                    "error: cannot create the folder \(ancestor): \(reason); choose a folder you can write to")
                return .usage
            }
            made.append(ancestor)
        }
    }
    for file in template.files {
        let path = shown(file.path)
        if let reason = writeNewFile(path, contents: file.contents, mode: file.executable ? 0o755 : 0o644) {
            undo()
            diagnostics.write(
                "error: cannot write \(path): \(reason); nothing was written, so fix that and run init again")
            return .usage
        }
        written.append(path)
    }

    for path in written { context.stdout.write("created \(path)\n") }
    let enter = folder == "." ? "" : "cd \(shellQuoted(folder)) && "
    context.stdout.write("next: \(enter)encharge-lua test rules.lua; README.md says how to run it for real\n")
    return .success
}

/// `fixtures` for `fixtures/a.json`, `a/b` for `a/b/c`; nil for a bare name or `/x`.
private func parentFolder(of path: String) -> String? {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return nil }
    return String(path[..<slash])
}

/// Whether anything (a file, a folder, a symbolic link, even a dangling one) is at `path`.
private func exists(_ path: String) -> Bool {
    var status = stat()
    return lstat(path, &status) == 0
}

private func isFolder(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
}

/// Creates `path` (failing if anything is there already) holding `contents`; nil on success,
/// else why it failed.
private func writeNewFile(_ path: String, contents: String, mode: mode_t) -> String? {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { return String(cString: strerror(errno)) }
    let wrote = FileDescriptor(rawValue: fd).writeAll(contents)
    let reason = wrote ? nil : String(cString: strerror(errno))
    close(fd)
    if !wrote { unlink(path) }
    return reason
}
