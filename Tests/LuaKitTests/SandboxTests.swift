import CLua
import JSONKit
import Testing

@testable import LuaKit

#if canImport(Glibc)
import Glibc
#endif

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

    /// A traceback belongs to the call that failed: the next call clears it whether it succeeds
    /// or fails without one (out of memory runs no message handler), and a later failure has its own.
    @Test func aTracebackNeverOutlivesItsCall() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 1 << 20, instructions: 0, seconds: 20))
        let failing = "local function inner() error('boom') end\ninner()"
        let hog = "local t = {} for i = 1, 1e7 do t[i] = i end"
        for script in [failing, hog, failing, "return 1", hog] {
            let error: LuaError?
            do {
                _ = try evaluate(state, script)
                error = nil
            } catch let caught as LuaError {
                error = caught
            }
            switch script {
            case failing: #expect(error?.traceback?.contains("in local 'inner'") == true)
            case hog:
                #expect(error?.kind == .memory)
                #expect(error?.traceback == nil)
            default: #expect(error == nil)
            }
            #expect(state.lastTraceback == error?.traceback)
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

/// What issue 8 found: Lua code or host work that ran outside every budget.
@Suite struct SandboxBudgetTests {
    @Test(arguments: [
        "setmetatable({}, {__gc = function() while true do end end})",
        "setmetatable({}, {__gc = true})",
        "local mt = {__gc = false} setmetatable({}, mt) mt.__gc = function() while true do end end",
        "setmetatable({}, setmetatable({}, {__index = function() return 1 end})) return 'no raw __gc is fine'",
    ])
    func finalizersAreRefused(source: String) throws {
        let state = try LuaState(limits: LuaLimits(instructions: 1_000_000, seconds: 5))
        if source.hasSuffix("is fine'") {
            #expect(try evaluate(state, source) == .string("no raw __gc is fine"))
            return
        }
        #expect {
            _ = try evaluate(state, source)
        } throws: {
            ($0 as! LuaError).message.hasPrefix("test:1: setmetatable: a __gc finalizer is not allowed in rules")
        }
        #expect(try evaluate(state, "return getmetatable(setmetatable({}, {x = 1})).x") == .integer(1))
    }

    @Test func theHostsSharedMetatablesCannotBeGivenAFinalizer() throws {
        let state = try LuaState(limits: LuaLimits(instructions: 1_000_000, seconds: 5))
        state.installJSONModule()
        #expect(try evaluate(state, "return getmetatable(json.array{})") == .string("json.array"))
        #expect(try evaluate(state, "return getmetatable(json.decode('{}'))") == .string("json.object"))
        #expect(try evaluate(state, "return json.encode({json.array{}, json.object{}})") == .string("[[],{}]"))
    }

    @Test(arguments: [
        "return xpcall(error, function() while true do end end)",
        "local function f() while true do end end return xpcall(f, function() while true do end end)",
        "return xpcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end, function() while true do end end)",
    ])
    func xpcallHandlersRunUnderTheBudget(source: String) throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 2_000_000, seconds: 5))
        let start = ContinuousClock.now
        #expect(throws: LuaError.self) { _ = try evaluate(state, source) }
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(try evaluate(state, "return 'alive'") == .string("alive"))
    }

    @Test func xpcallStillReturnsLikeTheStandardOne() throws {
        let state = try LuaState()
        #expect(
            try evaluate(state, "return {xpcall(function(a, b) return a + b, 'x' end, print, 1, 2)}")
                == .array([.bool(true), .integer(3), .string("x")]))
        #expect(
            try evaluate(
                state, "local ok, m = xpcall(error, function(e) return 'handled ' .. e end, 'boom') return {ok, m}")
                == .array([.bool(false), .string("handled boom")]))
        #expect(
            try evaluate(state, "local ok, m = xpcall(error, function(e) error('again') end, 'boom') return {ok, m}")
                == .array([.bool(false), .string("test:1: again")]))
    }

    @Test func aHugeErrorMessageIsCut() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 64 << 20, instructions: 0, seconds: 10))
        #expect {
            _ = try evaluate(
                state, "error(setmetatable({}, {__tostring = function() return string.rep('x', 3e7) end}))")
        } throws: { error in
            let e = error as! LuaError
            return e.message.utf8.count < 4200 && e.message.hasSuffix("… (\(30_000_000 - 4096) bytes more)")
        }
    }

    @Test func aHugeErrorMessageIsCutAtACharacter() throws {
        let state = try LuaState()
        // Byte 4096 is the second byte of an "é": the cut keeps 4095 bytes and counts the rest.
        #expect {
            _ = try evaluate(
                state, "error(setmetatable({}, {__tostring = function() return 'a' .. string.rep('é', 3000) end}))")
        } throws: { error in
            (error as! LuaError).message == "a" + String(repeating: "é", count: 2047) + "… (1906 bytes more)"
        }
    }

    @Test func aTostringForAnErrorRunsUnderTheMemoryCap() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 0, seconds: 10))
        #expect {
            _ = try evaluate(
                state, "error(setmetatable({}, {__tostring = function() return string.rep('x', 3e8) end}))")
        } throws: { ($0 as! LuaError).kind == .memory }
        #expect(state.peakMemory < 32 << 20)
    }

    @Test func aSharedSubtableDAGIsBoundedByTheMemoryCap() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 0, seconds: 30))
        state.installJSONModule()
        let start = ContinuousClock.now
        #expect {
            _ = try evaluate(state, "local t = {1} for i = 1, 24 do t = {t, t} end\nreturn json.encode(t)")
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .memory && e.message.hasPrefix("test:2: json.encode: ")
                && e.message.contains("memory limit of 16 MiB exceeded")
        }
        #expect(ContinuousClock.now - start < .seconds(15))
        // pcall cannot swallow it either.
        #expect(throws: LuaError.self) {
            _ = try evaluate(state, "local t = {1} for i = 1, 24 do t = {t, t} end\nreturn pcall(json.encode, t)")
        }
        #expect(try evaluate(state, "return json.encode({1, {2}})") == .string("[1,[2]]"))
    }

    @Test func aConversionChecksTheDeadline() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 1 << 30, instructions: 0, seconds: 0.5))
        state.installJSONModule()
        let start = ContinuousClock.now
        #expect {
            _ = try evaluate(state, "local t = {1} for i = 1, 26 do t = {t, t} end\nreturn json.encode(t)")
        } throws: { ($0 as! LuaError).kind == .deadline }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func toJSONHonoursAByteCap() throws {
        let state = try LuaState()
        try state.load(Array("return {name = string.rep('x', 2000)}".utf8), chunkName: "=test")
        try state.call(arguments: 0, results: 1)
        #expect(throws: LuaConversionError.self) { _ = try state.toJSON(at: -1, maxBytes: 1000) }
        #expect(try state.toJSON(at: -1, maxBytes: 4000).objectValue?["name"]?.stringValue?.count == 2000)
    }

    @Test func jsonDecodeBuildsUnderTheMemoryCap() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 0, seconds: 20))
        state.installJSONModule()
        #expect {
            _ = try evaluate(state, "local text = '[' .. string.rep('{},', 1e6) .. '{}]'\nreturn #json.decode(text)")
        } throws: { error in
            let e = error as! LuaError
            return e.kind == .memory && e.message.hasPrefix("test:2: json.decode:")
        }
        #expect(state.peakMemory < 24 << 20)
        #expect(try evaluate(state, "return #json.decode('[' .. string.rep('{},', 1000) .. '{}]')") == .integer(1001))
    }

    @Test func anAllocationTheEmergencyCollectionRescuesIsNoMemoryError() throws {
        let state = try LuaState(limits: LuaLimits(memoryBytes: 16 << 20, instructions: 0, seconds: 20))
        // 200 MB of garbage strings under a 16 MiB cap: allocations are refused now and then and
        // succeed after Lua's emergency collection; a later pcall'd error must stay an ordinary one.
        let source = """
            for i = 1, 200 do local s = string.rep('x', 1000000 + i) end
            local ok, message = pcall(error, 'expected')
            return message
            """
        #expect(try evaluate(state, source) == .string("expected"))
    }

    @Test func rawSetRefusesNilAndNaNKeysWithoutRaising() throws {
        let state = try LuaState()
        state.newTable()
        state.pushNil()
        state.push(Int64(1))
        #expect { try state.rawSet(tableAt: -3) } throws: { ($0 as! LuaRaise).message == "index is nil" }
        state.top = 1
        state.push(Double.nan)
        state.push(Int64(1))
        #expect { try state.rawSet(tableAt: -3) } throws: { ($0 as! LuaRaise).message == "index is NaN" }
        state.top = 1
        state.push("key")
        state.push(Int64(1))
        try state.rawSet(tableAt: -3)
        #expect(state.rawGetField("key", in: 1) == .number)
    }
}
