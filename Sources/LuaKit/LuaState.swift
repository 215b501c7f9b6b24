import CLua
import JSONKit

#if canImport(Glibc)
import Glibc
#endif

/// The kind of a Lua value.
public enum LuaType: Int32, Sendable {
    case none = -1, `nil` = 0, boolean = 1, lightUserdata = 2, number = 3, string = 4, table = 5,
        function = 6, userdata = 7, thread = 8

    public var name: String {
        switch self {
        case .none, .nil: "nil"
        case .boolean: "boolean"
        case .lightUserdata, .userdata: "userdata"
        case .number: "number"
        case .string: "string"
        case .table: "table"
        case .function: "function"
        case .thread: "thread"
        }
    }
}

/// Per-call and per-state limits. Defaults are far above what a real rule needs.
public struct LuaLimits: Sendable {
    /// Bytes the state may hold; allocations past it fail while Lua code runs.
    public var memoryBytes: Int = 64 << 20
    /// Lua VM instructions per call (counted in steps of 1,000).
    public var instructions: Int64 = 50_000_000
    /// Wall-clock seconds per call.
    public var seconds: Double = 2

    public init(memoryBytes: Int = 64 << 20, instructions: Int64 = 50_000_000, seconds: Double = 2) {
        self.memoryBytes = memoryBytes
        self.instructions = instructions
        self.seconds = seconds
    }
}

/// A Swift function callable from Lua. It reads its arguments from the state (indices 1...n),
/// pushes its results and returns how many. Throwing `LuaRaise` (or any error) raises a Lua error
/// at the caller's line; the raise itself happens in C, never across Swift frames.
public typealias LuaFunction = (LuaState) throws -> Int32

/// One sandboxed `lua_State` with a memory cap, an instruction budget and a deadline per call.
///
/// Not `Sendable`: a state is used by one thread at a time. Concurrency means several states.
public final class LuaState {
    /// The raw state. Owned by this object; closed in `deinit`.
    public let L: OpaquePointer
    /// Allocator/hook accounting shared with C. Owned by this object, freed after `lua_close`.
    let limitsPointer: UnsafeMutablePointer<encl_limits>
    public var limits: LuaLimits {
        didSet { limitsPointer.pointee.limit = max(limits.memoryBytes, 1 << 20) }
    }
    var functions: [LuaFunction] = []
    var arrayMetatableRef: Int32 = 0
    var objectMetatableRef: Int32 = 0
    var jsonParser = JSONParser()
    /// Keys decoding found repeated within one JSON object (records, `req.json`, `json.decode`).
    public internal(set) var jsonDuplicateKeys = JSONDuplicateKeys()
    /// Set by `call` when the protected call failed.
    public private(set) var lastTraceback: String?
    /// Bytes in use after the last full collection `call` made.
    var usageAfterCollection = 0
    /// When the running call started, for a watchdog on another thread.
    public let callClock = LuaCallClock()

    /// Creates a state with the sandboxed standard library (see `Sandbox.swift`).
    /// - Parameter moduleDirectory: where `require("name")` looks for `name.lua`; nil disables it.
    public init(limits: LuaLimits = LuaLimits(), moduleDirectory: String? = nil) throws {
        self.limits = limits
        limitsPointer = .allocate(capacity: 1)
        limitsPointer.initialize(to: encl_limits())
        limitsPointer.pointee.limit = max(limits.memoryBytes, 1 << 20)
        limitsPointer.pointee.call_started = callClock.storage
        guard let state = encl_newstate(limitsPointer) else {
            limitsPointer.deallocate()
            throw LuaError(kind: .memory, message: "cannot create a Lua state (out of memory)")
        }
        L = state
        installJSONMetatables()
        try installSandbox(moduleDirectory: moduleDirectory)
    }

    deinit {
        lua_close(L)
        limitsPointer.deallocate()
    }

    /// Bytes the state holds now, and the most it ever held.
    public var memoryInUse: Int { limitsPointer.pointee.used }
    public var peakMemory: Int { limitsPointer.pointee.peak }

    /// `file:line` the count hook last saw the rule at during the current (or last) call, or nil.
    /// A watchdog that gave a call up reads it; the line is within about 1,000 instructions of
    /// where the rule called the function that overran.
    public var lastSeenPosition: String? {
        let p = limitsPointer
        guard p.pointee.last_line > 0 else { return nil }
        let source = withUnsafeBytes(of: p.pointee.last_source) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(source):\(p.pointee.last_line)"
    }

    // MARK: - Loading and calling

    /// Compiles a text chunk and leaves the function on the stack. Binary chunks are refused.
    public func load(_ source: [UInt8], chunkName: String) throws(LuaError) {
        let status = loadText(source, chunkName: chunkName)
        guard status == LUA_OK else {
            let message = popString() ?? "cannot load chunk"
            throw LuaError(kind: status == LUA_ERRMEM ? .memory : .syntax, message: message)
        }
    }

    /// Reads and compiles a Lua file; the chunk name makes errors read `path:line:`.
    public func load(file path: String) throws(LuaError) {
        let bytes: [UInt8]
        do { bytes = try readWholeFile(path) } catch {
            throw LuaError(kind: .io, message: "cannot read \(path): \(error.message)")
        }
        try load(bytes, chunkName: "@" + path)
    }

    /// Calls the function below `arguments` values on the stack in protected mode with the
    /// budgets armed. Leaves `results` values on the stack (or none after an error).
    public func call(arguments: Int32, results: Int32) throws(LuaError) {
        let p = limitsPointer
        // Garbage an earlier call left (a failed record's, or its host work's) would otherwise
        // count against this call: collect when the state holds most of the cap and has grown
        // by an eighth of it since the last collection (so live data alone never triggers one).
        let used = p.pointee.used, limit = p.pointee.limit
        if used > limit / 4 * 3 && used > usageAfterCollection + limit / 8 { collect() }
        p.pointee.instruction_limit = limits.instructions
        p.pointee.deadline_ns = limits.seconds > 0 ? encl_now_ns() + Int64(limits.seconds * 1e9) : 0
        let status = encl_pcall(L, arguments, results)
        p.pointee.deadline_ns = 0
        guard status != LUA_OK else {
            lastTraceback = nil
            return
        }
        let tripped = p.pointee.tripped
        var message = popString() ?? "unknown error"
        encl_pushtraceback(L)
        lastTraceback = popString()
        let kind: LuaError.Kind
        switch UInt32(tripped) {
        case ENCL_TRIP_MEMORY.rawValue:
            kind = .memory
            // Host code past the cap (a conversion, json.decode) raised with the rule line already.
            if !message.contains(LuaState.memoryLimitText(limits.memoryBytes)) { message = memoryMessage() }
        case ENCL_TRIP_INSTRUCTIONS.rawValue: kind = .instructions
        case ENCL_TRIP_DEADLINE.rawValue: kind = .deadline
        default:
            kind = status == LUA_ERRMEM ? .memory : .runtime
            if kind == .memory { message = memoryMessage() }
        }
        if kind == .memory { collect() }
        throw LuaError(kind: kind, message: message, traceback: lastTraceback)
    }

    /// A full collection, noting what is left for the next `call`'s check.
    private func collect() {
        encl_collect(L)
        usageAfterCollection = limitsPointer.pointee.used
    }

    private func memoryMessage() -> String {
        let text = LuaState.memoryLimitText(limits.memoryBytes)
        guard let position = lastSeenPosition else { return text }
        return "\(position): \(text)"
    }

    /// `file:line` of the rule where a call that a watchdog gave up (`LuaCallClock.abandon`) is
    /// stuck, read from the watchdog thread; else the line the count hook last saw.
    public func stuckCallPosition() -> String? {
        var buffer = [CChar](repeating: 0, count: 128)
        if encl_stuck_position(L, &buffer, buffer.count) != 0 {
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return lastSeenPosition
    }

    static func memoryLimitText(_ bytes: Int) -> String {
        "memory limit of \(bytes >> 20) MiB exceeded; the rule builds too much data (raise --memory-limit if that is intended)"
    }

    /// Keeps the value on top in the registry and pops it; returns the reference.
    public func makeReference() -> Int32 { luaL_ref(L, encl_registryindex()) }

    /// Copies the value at `from` over the slot `to`.
    public func copy(from: Int32, to: Int32) { lua_copy(L, from, to) }

    public func releaseReference(_ ref: Int32) { luaL_unref(L, encl_registryindex(), ref) }

    public func pushReference(_ ref: Int32) { lua_rawgeti(L, encl_registryindex(), lua_Integer(ref)) }

    // MARK: - Swift functions

    /// Pushes a Lua function that calls `function`.
    public func push(function: @escaping LuaFunction) {
        functions.append(function)
        // The context is this object, unretained: the lua_State (and so every closure that
        // holds the pointer) is closed in our deinit, so it never outlives us.
        let context = Unmanaged.passUnretained(self).toOpaque()
        encl_pushswiftfunction(L, luaStateDispatch, context, Int32(functions.count - 1))
    }

    /// Sets `table[name] = function` on the table at the top of the stack.
    public func setFunction(_ name: String, _ function: @escaping LuaFunction) {
        push(function: function)
        lua_setfield(L, -2, name)
    }

    /// Creates (or replaces) a global table `name` with the given functions.
    public func defineModule(_ name: String, functions: [(String, LuaFunction)]) {
        lua_createtable(L, 0, Int32(functions.count))
        for (key, function) in functions { setFunction(key, function) }
        lua_setglobal(L, name)
    }

    // MARK: - Stack

    public var top: Int32 {
        get { lua_gettop(L) }
        set { lua_settop(L, newValue) }
    }

    public func pop(_ n: Int32 = 1) { encl_pop(L, n) }

    public func type(at index: Int32) -> LuaType { LuaType(rawValue: lua_type(L, index)) ?? .none }

    public func isNoneOrNil(_ index: Int32) -> Bool { encl_isnoneornil(L, index) != 0 }

    /// The string at `index` (numbers are not converted), or nil.
    public func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = encl_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }

    /// Calls `body` with the bytes of the string at `index` (valid only during the call).
    public func withStringBytes<R>(at index: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = encl_tolstring(L, index, &length) else { return nil }
        return try body(UnsafeRawBufferPointer(start: p, count: length))
    }

    public func integer(at index: Int32) -> Int64? {
        var isInteger: Int32 = 0
        let value = encl_tointeger(L, index, &isInteger)
        return isInteger != 0 && lua_type(L, index) == LUA_TNUMBER ? value : nil
    }

    public func number(at index: Int32) -> Double? {
        lua_type(L, index) == LUA_TNUMBER ? encl_tonumber(L, index) : nil
    }

    public func isInteger(at index: Int32) -> Bool { lua_isinteger(L, index) != 0 }

    public func boolean(at index: Int32) -> Bool { lua_toboolean(L, index) != 0 }

    public func push(_ value: String) {
        var value = value
        value.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    public func push(bytes: UnsafeRawBufferPointer) {
        _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    public func push(_ value: Int64) { lua_pushinteger(L, value) }
    public func push(_ value: Double) { lua_pushnumber(L, value) }
    public func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    public func pushNil() { lua_pushnil(L) }
    public func pushValue(at index: Int32) { lua_pushvalue(L, index) }
    public func newTable(arrayCount: Int32 = 0, fieldCount: Int32 = 0) { lua_createtable(L, arrayCount, fieldCount) }

    /// `t[key] = value` without metamethods, for the table at `table` and the value on top.
    public func rawSetField(_ key: String, in table: Int32) {
        let absolute = lua_absindex(L, table)
        push(key)
        lua_rotate(L, -2, 1)
        lua_rawset(L, absolute)
    }

    /// Pushes `t[key]` without metamethods.
    @discardableResult
    public func rawGetField(_ key: String, in table: Int32) -> LuaType {
        let absolute = lua_absindex(L, table)
        push(key)
        return LuaType(rawValue: lua_rawget(L, absolute)) ?? .nil
    }

    public func setGlobal(_ name: String) { lua_setglobal(L, name) }

    @discardableResult
    public func getGlobal(_ name: String) -> LuaType {
        encl_pushglobaltable(L)
        let type = rawGetField(name, in: -1)
        lua_rotate(L, -2, -1)
        pop()
        return type
    }

    /// `file:line` of the Lua function `level` levels up the stack (1 = the caller of a Swift
    /// function), or nil when that level is not Lua code.
    public func position(level: Int32 = 1) -> (source: String, line: Int)? {
        var ar = lua_Debug()
        guard lua_getstack(L, level, &ar) != 0, lua_getinfo(L, "Sl", &ar) != 0, ar.currentline > 0 else {
            return nil
        }
        let source = withUnsafeBytes(of: ar.short_src) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return (source, Int(ar.currentline))
    }

    /// luaL_loadbufferx in text mode; protected inside Lua, so it never raises.
    func loadText(_ source: [UInt8], chunkName: String) -> Int32 {
        var source = source
        if source.isEmpty { source = [0x20] }
        return source.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { encl_loadtext(L, $0.baseAddress!, $0.count, chunkName) }
        }
    }

    func popString() -> String? {
        defer { pop() }
        return string(at: -1)
    }
}

/// The one C entry point for every Swift function (see `encl_trampoline`). Never raises: errors
/// become a message on the stack and a negative return.
private func luaStateDispatch(_ L: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ index: Int32) -> Int32 {
    let state = Unmanaged<LuaState>.fromOpaque(context!).takeUnretainedValue()
    let function = state.functions[Int(index)]
    do {
        return try function(state)
    } catch let raise as LuaRaise {
        state.push(raise.message)
        return raise.addPosition ? -1 : -2
    } catch let error as LuaConversionError {
        state.push(error.description)
        return -1
    } catch {
        state.push(String(describing: error))
        return -1
    }
}

struct FileError: Error {
    let message: String
}

/// Reads a whole (small) file: rule files and modules.
func readWholeFile(_ path: String) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(message: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
        throw FileError(message: "it is a directory")
    }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(message: String(cString: strerror(errno)))
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<n])
        if result.count > 16 << 20 { throw FileError(message: "file is larger than 16 MiB") }
    }
    return result
}

extension LuaState {
    /// `t[k] = v` without metamethods, for the table at `index` and key, value on top (popped).
    /// A nil or NaN key, which `lua_rawset` would raise on across Swift frames, throws instead, with
    /// Lua's own message, so a Swift function can raise it through the trampoline.
    public func rawSet(tableAt index: Int32) throws(LuaRaise) {
        switch lua_type(L, -2) {
        case LUA_TNIL, LUA_TNONE:
            throw LuaRaise("index is nil")
        case LUA_TNUMBER where lua_isinteger(L, -2) == 0 && encl_tonumber(L, -2).isNaN:
            throw LuaRaise("index is NaN")
        default:
            lua_rawset(L, lua_absindex(L, index))
        }
    }

    /// Pops the table on top and makes it the metatable of the value below it.
    public func setMetatableOfValueBelow() {
        lua_setmetatable(L, -2)
    }
}

/// When the running protected call of one `LuaState` started, readable and abandonable from any
/// thread: the hook a watchdog needs to notice a C call that no budget can interrupt.
public final class LuaCallClock: Sendable {
    // Invariant: allocated here, freed in deinit; the LuaState that points its limits at it holds
    // this object, so it outlives the lua_State. Every access goes through CLua's atomics.
    nonisolated(unsafe) let storage: UnsafeMutablePointer<Int64>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: 0)
    }

    deinit { storage.deallocate() }

    /// CLOCK_MONOTONIC nanoseconds at which the running call started, or nil when no call runs.
    public var runningSince: Int64? {
        let started = encl_call_started(storage)
        return started > 0 ? started : nil
    }

    /// Whether the call that started at `started` was given up by a watchdog.
    public var isAbandoned: Bool { encl_call_started(storage) == Int64(ENCL_CALL_ABANDONED) }

    /// Gives up the call that started at `started`, if it is still running. From then on the
    /// thread running it never returns to Swift (it parks when the C call ends), so the caller
    /// owns whatever that thread was working on. False if the call ended meanwhile.
    public func abandon(startedAt started: Int64) -> Bool {
        encl_call_abandon(storage, started) != 0
    }

    /// Nanoseconds on the clock `runningSince` uses.
    public static func now() -> Int64 { encl_now_ns() }
}
