import CLua
import JSONKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import LuaKit

/// Runs `source` as a chunk and returns its first result as JSON (or throws the Lua error).
func evaluate(_ state: LuaState, _ source: String) throws -> JSONValue {
    try state.load(Array(source.utf8), chunkName: "=test")
    try state.call(arguments: 0, results: 1)
    defer { state.top = 0 }
    return try state.toJSON(at: -1)
}

@Suite struct SandboxTests {
    @Test(arguments: [
        "io", "debug", "package", "dofile", "loadfile", "require_native", "collectgarbage", "module",
        "coroutine",
    ])
    func forbiddenGlobalIsAbsent(name: String) throws {
        let state = try LuaState()
        #expect(try evaluate(state, "return \(name) == nil") == .bool(true))
    }

    @Test(arguments: ["execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"])
    func forbiddenOSFunctionIsAbsent(name: String) throws {
        let state = try LuaState()
        #expect(try evaluate(state, "return os.\(name) == nil") == .bool(true))
    }

    @Test(arguments: ["time", "date", "clock", "difftime"])
    func safeOSFunctionIsPresent(name: String) throws {
        let state = try LuaState()
        #expect(try evaluate(state, "return type(os.\(name))") == .string("function"))
    }

    @Test func stringDumpIsGoneAndBinaryChunksAreRefused() throws {
        let state = try LuaState()
        #expect(try evaluate(state, "return string.dump == nil") == .bool(true))
        // A binary chunk starts with ESC 'Lua'; load must refuse it even when asked for mode "b".
        let result = try evaluate(state, #"local f, err = load("\27Lua", "x", "b"); return err"#)
        #expect(result.stringValue?.contains("attempt to load a binary chunk") == true)
    }

    @Test func loadStillCompilesText() throws {
        let state = try LuaState()
        #expect(try evaluate(state, "return load('return 1 + 2')()") == .integer(3))
    }

    @Test func infiniteLoopHitsTheInstructionBudgetAndTheStateStaysUsable() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 1_000_000, seconds: 10))
        #expect {
            _ = try evaluate(state, "while true do end")
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .instructions && e.message.hasPrefix("test:1: instruction limit of 1000000 exceeded")
        }
        #expect(try evaluate(state, "return 40 + 2") == .integer(42))
    }

    @Test func pcallCannotSwallowTheBudget() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 1_000_000, seconds: 10))
        #expect(throws: LuaError.self) {
            _ = try evaluate(state, "while true do pcall(function() while true do end end) end")
        }
        #expect(try evaluate(state, "return select('#', pcall(error, 'x'))") == .integer(2))
    }

    @Test func deadlineStopsASlowCall() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 0, seconds: 0.2))
        let start = ContinuousClock.now
        #expect {
            _ = try evaluate(state, "while true do end")
        } throws: { ($0 as! LuaError).kind == .deadline }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(try evaluate(state, "return 'alive'") == .string("alive"))
    }

    @Test(arguments: [
        "local s = string.rep('x', 1e9)",
        "local t = {} for i = 1, 1e9 do t[i] = {i} end",
        "local s = 'x' while true do s = s .. s end",
    ])
    func memoryBombHitsTheCapAndTheStateRecovers(source: String) throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 0, seconds: 20))
        #expect {
            _ = try evaluate(state, source)
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .memory && e.message.contains("memory limit of 16 MiB exceeded")
        }
        #expect(state.memoryInUse < 4 << 20)
        #expect(try evaluate(state, "local t = {} for i = 1, 1000 do t[i] = i end return #t") == .integer(1000))
    }

    @Test func deepRecursionIsAStackOverflowError() throws {
        let state = try LuaState()
        #expect {
            _ = try evaluate(state, "local function f(n) return 1 + f(n + 1) end return f(1)")
        } throws: { ($0 as! LuaError).message.contains("stack overflow") }
        #expect(try evaluate(state, "return 1") == .integer(1))
    }

    @Test func nonStringErrorObjectsGetAMessageWithPosition() throws {
        let state = try LuaState()
        #expect {
            _ = try evaluate(state, "\nerror({})")
        } throws: { ($0 as! LuaError).message == "test:2: (error object is a table value)" }
        #expect {
            _ = try evaluate(state, "error(setmetatable({}, {__tostring = function() return 'custom' end}))")
        } throws: { ($0 as! LuaError).message == "custom" }
    }

    @Test func errorsCarryATraceback() throws {
        let state = try LuaState()
        #expect {
            _ = try evaluate(state, "local function inner() error('boom') end\ninner()")
        } throws: { error in
            let e = error as! LuaError
            return e.message == "test:1: boom" && e.traceback?.contains("in local 'inner'") == true
        }
    }

    @Test func swiftFunctionErrorsCarryTheCallersLine() throws {
        let state = try LuaState()
        state.defineModule("host", functions: [("fail", { _ in throw LuaRaise("fail: no good") })])
        #expect {
            _ = try evaluate(state, "\n\nhost.fail()")
        } throws: { ($0 as! LuaError).message == "test:3: fail: no good" }
    }

    @Test func requireLoadsOnlyModulesNextToTheRules() throws {
        let directory = "/tmp/luakit-require-\(getpid())"
        mkdir(directory, 0o755)
        defer { unlink(directory + "/helper.lua"); rmdir(directory) }
        let text = "return { answer = 42 }"
        let file = fopen(directory + "/helper.lua", "w")
        fputs(text, file)
        fclose(file)
        let state = try LuaState(moduleDirectory: directory)
        #expect(try evaluate(state, "return require('helper').answer") == .integer(42))
        #expect(try evaluate(state, "return require('helper') == require('helper')") == .bool(true))
        #expect {
            _ = try evaluate(state, "require('../etc/passwd')")
        } throws: { ($0 as! LuaError).message.contains("invalid module name") }
        #expect {
            _ = try evaluate(state, "require('missing')")
        } throws: { ($0 as! LuaError).message.contains("module 'missing' not found") }
    }

    /// The shims re-declare no constants, but Swift code relies on these C values.
    @Test func cConstantsMatchLua() {
        #expect(encl_registryindex() == -1_001_000)
        #expect(encl_upvalueindex(1) == -1_001_001)
        #expect(LUA_OK == 0 && LUA_ERRMEM == 4)
        #expect(ENCL_HOOK_STEP == 1000)
    }
}
