import JSONKit
import SystemKit

#if canImport(Glibc)
import Glibc
#endif

extension Fixture {
    /// The fixture's text with `outcome` as its expectation, as `test --update` writes it: one
    /// top-level member per line in key order, the input members (`record`, `webhook`, `settings`,
    /// `now`, `sign`, `source`) copied byte for byte from the file, the outcome pretty-printed.
    /// Rewriting a fixture this wrote, with the same outcome, gives the same bytes.
    func text(expecting outcome: FixtureOutcome) -> [UInt8] {
        var members: [(key: String, text: [UInt8])] = []
        for span in memberSpans where Self.inputMembers.contains(span.key) {
            members.append((span.key, Array(text[span.value])))
        }
        for (key, value) in outcome.members {
            var writer = JSONWriter(pretty: true)
            writer.write(value)
            // One level deeper than the writer's own indentation; JSON text breaks lines only
            // between tokens, never inside a string.
            var indented: [UInt8] = []
            for byte in writer.bytes {
                indented.append(byte)
                if byte == 0x0A { indented += [0x20, 0x20] }
            }
            members.append((key, indented))
        }
        members.sort { JSONObject.keyPrecedes($0.key, $1.key) }
        var out = Array("{\n".utf8)
        for (index, member) in members.enumerated() {
            out += Array("  ".utf8) + Array(JSONValue.string(member.key).encoded().utf8) + Array(": ".utf8)
            out += member.text
            out += Array((index < members.count - 1 ? ",\n" : "\n").utf8)
        }
        out += Array("}\n".utf8)
        return out
    }

    /// Replaces the file at `path` with `bytes` at once: written and flushed beside it under a
    /// temporary name, then renamed over it, so an interrupted update leaves the old fixture or
    /// the new one, never half of one. Throws the system's reason.
    static func write(_ bytes: [UInt8], to path: String) throws(FixtureError) {
        let temporary = path + ".update-\(getpid())"
        func failure() -> FixtureError {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return FixtureError(
                file: path, jsonPath: nil, "cannot be written (\(reason)); check that its folder is writable")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure() }
        let written = bytes.withUnsafeBytes { FileDescriptor(rawValue: descriptor).writeAll($0) }
        guard written, fsync(descriptor) == 0 else {
            close(descriptor)
            throw failure()
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw failure() }
    }
}
