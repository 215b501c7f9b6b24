import Foundation

/// Input for comparing `run --jobs 1` with `run --jobs N`: a rule and records that make a run
/// report a bit of everything, in process and with the real binary alike.
public enum MixedRecords {
    /// A rule that does a bit of everything a run reports: events naming their record, skips,
    /// rule errors, invalid events, `log.*` lines, a counted warning (a tag with a comma) and
    /// repeated JSON keys (decoded by the reader and by `json.decode`).
    public static let rule = """
        function on_record(r, ctx)
          local kind = r.kind
          if kind == "skip" then return encharge.skip("told to") end
          if kind == "fail" then error("failing record " .. tostring(r.id)) end
          if kind == "invalid" then encharge.track("x", { name = "nobody" }) end
          if kind == "log" then log.info("seen " .. tostring(r.id)) end
          if kind == "decode" then json.decode('{"a": 1, "a": 2, "k' .. r.id % 7 .. '": 1, "k' .. r.id % 7 .. '": 2}') end
          local email = "u" .. tostring(r.id) .. "@example.com"
          encharge.identify{ email = email, source = ctx.source, tags = kind == "comma" and { "a,b" } or nil }
          encharge.track("Seen", { email = email }, { kind = kind })
        end
        """

    /// JSON lines of `count` records, most mapped, the others of each kind in turn; every 97th
    /// line is not JSON and every 89th has invalid UTF-8 once written by `write`.
    public static func jsonLines(_ count: Int, from first: Int = 1) -> String {
        let kinds = ["skip", "fail", "invalid", "log", "decode", "comma", "repeat"]
        var text = ""
        for id in first..<(first + count) {
            if id % 97 == 0 {
                text += "{\"id\": \(id), oops\n"
            } else if id % 89 == 0 {
                text += "{\"id\": \(id), \"name\": \"\(invalidByte)\"}\n"
            } else if id % 5 == 0 {
                let kind = kinds[(id / 5) % kinds.count]
                text +=
                    kind == "repeat"
                    ? "{\"id\": \(id), \"kind\": \"ok\", \"kind\": \"repeat\"}\n"
                    : "{\"id\": \(id), \"kind\": \"\(kind)\"}\n"
            } else {
                text += "{\"id\": \(id), \"kind\": \"ok\"}\n"
            }
        }
        return text
    }

    /// Stands for a byte that is not UTF-8 in `records`.
    public static let invalidByte = "§"

    /// Writes `text` with each `invalidByte` as the byte 0xFF.
    public static func write(_ tmp: TemporaryDirectory, _ name: String, _ text: String) throws -> String {
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0xA7, bytes.last == 0xC2 { bytes[bytes.count - 1] = 0xFF } else { bytes.append(byte) }
        }
        return try tmp.write(name, bytes: bytes)
    }
}
