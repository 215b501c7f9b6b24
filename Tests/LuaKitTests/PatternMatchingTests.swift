import CLua
import JSONKit
import Testing

@testable import LuaKit

/// The sandbox's own pattern matcher (CLuaPattern.c) against Lua 5.4's: each case runs in a
/// sandboxed `LuaState` and in a plain state with the standard string library, and both must
/// give the same results, or the same error.
@Suite struct PatternMatchingTests {
    /// Serializes every value a call returned, with its type, so `1` and `"1"` differ.
    static let prelude = """
        local function show(...)
          local parts = {}
          for i = 1, select('#', ...) do
            local v = select(i, ...)
            parts[#parts + 1] = type(v) .. ':' .. tostring(v)
          end
          return table.concat(parts, '|')
        end
        local function try(f, ...)
          local results = table.pack(pcall(f, ...))
          if not results[1] then return 'error:' .. tostring(results[2]) end
          return show(table.unpack(results, 2, results.n))
        end
        local function all(iterator)
          local out = {}
          while true do
            local values = table.pack(iterator())
            if values[1] == nil then break end
            out[#out + 1] = show(table.unpack(values, 1, values.n))
            if #out > 100 then break end
          end
          return table.concat(out, ';')
        end
        """

    /// Runs `body` (which ends with `return <string>`) after the prelude in the reference state.
    static func reference(_ body: String) throws -> String {
        let L = try #require(luaL_newstate())
        defer { lua_close(L) }
        luaL_openlibs(L)
        let source = Array((prelude + "\n" + body).utf8).map { CChar(bitPattern: $0) }
        guard luaL_loadbufferx(L, source, source.count, "=test", "t") == LUA_OK,
            lua_pcallk(L, 0, 1, 0, 0, nil) == LUA_OK
        else {
            return "chunk failed: " + String(cString: lua_tolstring(L, -1, nil))
        }
        return String(cString: lua_tolstring(L, -1, nil))
    }

    static func sandboxed(_ body: String) throws -> String {
        // No instruction budget: a few cases are quadratic on the long subject.
        let state = try LuaState(limits: LuaLimits(instructions: 0, seconds: 60))
        try state.load(Array((prelude + "\n" + body).utf8), chunkName: "=test")
        do { try state.call(arguments: 0, results: 1) } catch { return "chunk failed: \(error.message)" }
        return state.string(at: -1) ?? "not a string"
    }

    static let subjects = [
        "hello world from Lua", "", "  key = value  ", "THE (quick) [brown] fox", "a,b,,c", "x = 1 + (2 * (3 - 4))",
        "aaa", "abc123def45", "f(a(b)c)d", "line1\nline2\n", "%percent%", "caf\u{e9} na\u{ef}ve", "THE END",
        // Long enough that matches cross many charging slices of the step counter.
        String(repeating: "ab(c)d [x] ", count: 600) + "hello",
    ]

    static let patterns = [
        "o", "l+", "l*", "l-", "lo?", "^h", "^%s*(.-)%s*$", "%a+", "%A+", "%d+", "%D", "%w+", "%s", "%S+", "%p",
        "%u%l*",
        "%x+", "%c", "%g+", "[aeiou]", "[^aeiou ]+", "[%a_][%w_]*", "[a-c]+", "[]]", "[^]]", "[%]]", "(%a+) (%a+)",
        "()",
        "()o()", "(h)(e)(l)(l)(o)", "%b()", "%b[]", "%f[%w]%w+", "%f[%W]", "%f[%a]", "(a)%1", "((a)(b))", "(.-),", "$",
        "^",
        "^$", ".", ".-", ".*", "(%d)(%d)(%d)", "x$", "%.", "[%.%%]", "(%s*)=(%s*)", "[a-]", "[-a]", "[a-%d]", "o()r",
        "(l)(l)", "a-b", "%ba", "%", "[a", "(()", "%1", "(%1)", "%f", "%fx", "abc)", "%z", "%Z+", "[%z]", "\0",
    ]

    /// find/match with init (including negative and out of range), plain find, and gmatch.
    @Test(arguments: patterns)
    func findMatchAndGmatchAgreeWithLua(pattern: String) throws {
        let quotedPattern = luaQuoted(pattern)
        var body = "local out = {}\n"
        for subject in Self.subjects {
            let s = luaQuoted(subject)
            for initial in ["nil", "1", "3", "-4", "0", "-100", "100"] {
                body += "out[#out+1] = try(string.find, \(s), \(quotedPattern), \(initial))\n"
                body += "out[#out+1] = try(string.match, \(s), \(quotedPattern), \(initial))\n"
            }
            body += "out[#out+1] = try(string.find, \(s), \(quotedPattern), 1, true)\n"
            body += "out[#out+1] = try(function() return all(string.gmatch(\(s), \(quotedPattern))) end)\n"
            body += "out[#out+1] = try(function() return all(string.gmatch(\(s), \(quotedPattern), 4)) end)\n"
            body += "out[#out+1] = try(function() return all(string.gmatch(\(s), \(quotedPattern), -3)) end)\n"
            body += "out[#out+1] = try(function() return (\(s)):find(\(quotedPattern)) end)\n"
        }
        body += "return table.concat(out, '\\n')"
        let expected = try Self.reference(body)
        let actual = try Self.sandboxed(body)
        #expect(actual == expected)
    }

    /// gsub with string, table and function replacements, counts and anchors.
    @Test(arguments: patterns)
    func gsubAgreesWithLua(pattern: String) throws {
        let quotedPattern = luaQuoted(pattern)
        var body = "local out = {}\nlocal map = { hello = 'HI', l = false, o = 0, a = {} }\n"
        for subject in Self.subjects {
            let s = luaQuoted(subject)
            for replacement in [
                "'<%0>'", "'%1-%2'", "'%%'", "'x'", "'%9'", "'%'", "'%x'", "map", "string.upper",
                "function() return nil end",
                "function(a, b) return b end", "function() return {} end", "7",
                "function(...) return select('#', ...) end",
            ] {
                body += "out[#out+1] = try(string.gsub, \(s), \(quotedPattern), \(replacement))\n"
                body += "out[#out+1] = try(string.gsub, \(s), \(quotedPattern), \(replacement), 1)\n"
            }
            body += "out[#out+1] = try(string.gsub, \(s), \(quotedPattern), true)\n"
        }
        body += "return table.concat(out, '\\n')"
        let expected = try Self.reference(body)
        let actual = try Self.sandboxed(body)
        #expect(actual == expected)
    }

    @Test func anExponentialPatternFailsOnTheInstructionBudgetAtTheRulesLine() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 5_000_000, seconds: 60))
        let start = ContinuousClock.now
        #expect {
            _ = try evaluate(state, "local s = string.rep('a', 40000)\nreturn string.find(s, '.-.-.-.-.-.-b')")
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .instructions
                && e.message == "test:2: instruction limit of 5000000 exceeded (an endless loop?)"
        }
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(try evaluate(state, "return ('abc'):match('b')") == .string("b"))
    }

    @Test(arguments: [
        "return string.match(string.rep('a', 40000), '.-.-.-.-.-.-b')",
        "return (string.rep('a', 40000)):gsub('.-.-.-.-.-b', 'x')",
        "for m in string.gmatch(string.rep('a', 40000), '.-.-.-.-.-b') do end",
        "return pcall(string.find, string.rep('a', 40000), '.-.-.-.-.-.-b')",
    ])
    func anExponentialPatternFailsOnTheDeadline(source: String) throws {
        let state = try LuaState(limits: LuaLimits(instructions: 0, seconds: 0.3))
        let start = ContinuousClock.now
        #expect {
            _ = try evaluate(state, source)
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .deadline && e.message.hasPrefix("test:1: time limit exceeded")
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func repOfAnEmptyStringReturnsAtOnce() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 1_000_000, seconds: 5))
        #expect(try evaluate(state, "return string.rep('', 1e15) .. ('').rep('', 1e15, '')") == .string(""))
        #expect(try evaluate(state, "return string.rep('ab', 3, ',')") == .string("ab,ab,ab"))
    }
}

/// A Lua string literal for any bytes.
func luaQuoted(_ text: String) -> String {
    "\""
        + text.utf8.map { byte in
            byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
                ? String(UnicodeScalar(byte)) : "\\\(byte)"
        }.joined() + "\""
}
