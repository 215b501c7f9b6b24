import CLua
import JSONKit
import SystemKit

/// A Swift function callable from Lua. It reads its arguments from the state (indices 1...n),
/// pushes its results and returns how many. Throwing `LuaRaise` (or any error) raises a Lua error
/// at the caller's line; the raise itself happens in C, never across Swift frames.
public typealias LuaFunction = (LuaState) throws -> Int32

/// One sandboxed `lua_State` with a memory cap, an instruction budget and a deadline per call.
///
/// Not `Sendable`: a state is used by one thread at a time. Concurrency means several states.
///
/// Raising: Lua reports errors with `longjmp`, which must never cross Swift frames, so each stack
/// primitive's documentation says whether it can raise. Swift code always runs with the allocator
/// disarmed (CLua arms it only inside `encl_pcall` while Lua code runs, and `encl_trampoline`
/// disarms it while a Swift function runs), and a disarmed allocator only fails when the system
/// itself is out of memory, which outside a protected call ends in `encl_panic` (abort), never in
/// a longjmp into Swift. So "can raise only on out-of-memory while armed" means "never from
/// Swift". Primitives that could run a metamethod say when that is possible. None checks stack
/// space: Lua guarantees `LUA_MINSTACK` (20) free slots to a Swift function; push more only after
/// `lua_checkstack`.
public final class LuaState {
    /// The raw state: LuaKit's alone (not API, so that only the primitives below, each documented
    /// for whether it can raise, touch it). Owned by this object; closed in `deinit`.
    let L: OpaquePointer
    /// Allocator/hook accounting shared with C. Owned by this object, freed after `lua_close`.
    let limitsPointer: UnsafeMutablePointer<encl_limits>
    /// The memory cap, instruction budget and deadline. A new memory cap applies from the next
    /// allocation (at least 1 MiB whatever is set); the budget and deadline from the next `call`.
    public var limits: LuaLimits {
        get { storedLimits }
        set {
            storedLimits = newValue
            limitsPointer.pointee.limit = max(newValue.memoryBytes, 1 << 20)
        }
    }
    /// `limits`, read by every call and event encoding: set only through `limits`, never while a
    /// read is under way, so without the runtime's exclusivity checks.
    @exclusivity(unchecked) private var storedLimits: LuaLimits
    /// The Swift functions Lua can call, by the index their closure carries. Read on every call
    /// and only appended to otherwise, never during a read: no runtime exclusivity checks.
    /// Each is held (retained once, released in `deinit`) as an unmanaged reference, so reading one
    /// and calling its function costs no retain and release per call.
    @exclusivity(unchecked) private var functions: [Unmanaged<LuaFunctionBox>] = []
    var arrayMetatableRef: Int32 = 0
    var objectMetatableRef: Int32 = 0
    // The decoding state below is touched a few times for every record. The state is used by one
    // thread at a time and none of these is ever accessed while an access to it is under way (no
    // Lua code runs inside one), so the runtime's exclusivity checks are left out for them.
    @exclusivity(unchecked) var jsonParser = JSONParser()
    /// Members of the last top-level object `pushJSON` built: the next one (records of a stream
    /// look alike) starts with room for as many, sparing the table its rehashes as it grows.
    @exclusivity(unchecked) var recordWidthHint: Int32 = 4
    /// The shared metatables of decoded objects with null members.
    @exclusivity(unchecked) var nullsMetatables = LuaNullsMetatables()
    /// The slot memory of `LuaJSONBuilder` between decodings (nil while a builder holds it), and
    /// its capacity.
    @exclusivity(unchecked) private var jsonSlots: (UnsafeMutablePointer<LuaJSONSlot>, Int)?
    /// Keys decoding found repeated within one JSON object (records, `req.json`, `json.decode`).
    /// (Read after every record, like the decoding state above: no runtime exclusivity checks.)
    @exclusivity(unchecked) public internal(set) var jsonDuplicateKeys = JSONDuplicateKeys()
    /// Set by `call` when the protected call failed. (Written by every call, on the state's
    /// thread, never while a read is under way: no runtime exclusivity checks.)
    @exclusivity(unchecked) public private(set) var lastTraceback: String?
    /// Bytes in use after the last full collection `call` made.
    @exclusivity(unchecked) var usageAfterCollection = 0
    /// When the running call started, for a watchdog on another thread.
    public let callClock = LuaCallClock()

    /// Creates a state with the sandboxed standard library (see `LuaState+Sandbox.swift`).
    /// - Parameter moduleDirectory: where `require("name")` looks for `name.lua`; nil disables it.
    public init(limits: LuaLimits = LuaLimits(), moduleDirectory: String? = nil) throws {
        storedLimits = limits
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
        jsonSlots?.0.deallocate()
        for function in functions { function.release() }
    }

    /// The slot memory a `LuaJSONBuilder` works in: the state's own (which it then lacks until
    /// `keepJSONSlots`), or new memory when a builder already holds that.
    func takeJSONSlots() -> (UnsafeMutablePointer<LuaJSONSlot>, Int) {
        guard let slots = jsonSlots else { return (.allocate(capacity: 16), 16) }
        jsonSlots = nil
        return slots
    }

    /// Takes back a builder's slot memory for the next decoding (or frees it if the state has some).
    func keepJSONSlots(_ slots: UnsafeMutablePointer<LuaJSONSlot>, capacity: Int) {
        if jsonSlots == nil { jsonSlots = (slots, capacity) } else { slots.deallocate() }
    }

    /// Bytes the state holds now, and the most it ever held.
    public var memoryInUse: Int { limitsPointer.pointee.used }
    /// The most bytes the state has held at once since it was created.
    public var peakMemory: Int { limitsPointer.pointee.peak }

    /// `file:line` the count hook last saw the rule at during the current (or last) call, or nil.
    /// A watchdog that gave a call up reads it; the line is within about 1,000 instructions of
    /// where the rule called the function that overran.
    public var lastSeenPosition: String? {
        let p = limitsPointer
        guard p.pointee.last_line > 0 else { return nil }
        let source = withUnsafeBytes(of: p.pointee.last_source) {
            String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        return "\(source):\(p.pointee.last_line)"
    }

    // MARK: - Loading and calling

    /// Compiles a text chunk and leaves the function on the stack. Binary chunks are refused.
    /// Never raises: the parser runs in Lua's protected mode; its errors throw `LuaError`.
    public func load(_ source: [UInt8], chunkName: String) throws(LuaError) {
        let status = loadText(source, chunkName: chunkName)
        guard status == LUA_OK else {
            let message = popString() ?? "cannot load chunk"
            throw LuaError(kind: status == LUA_ERRMEM ? .memory : .syntax, message: message)
        }
    }

    /// Reads and compiles a Lua file; the chunk name makes errors read `path:line:`. Never raises.
    public func load(file path: String) throws(LuaError) {
        let bytes: [UInt8]
        do { bytes = try readSourceFile(path) } catch {
            throw LuaError(kind: .io, message: "cannot read \(path): \(error.reason)")
        }
        try load(bytes, chunkName: "@" + path)
    }

    /// Calls the function below `arguments` values on the stack in protected mode with the
    /// budgets armed. Leaves `results` values on the stack (or none after an error). Never raises:
    /// every Lua error, budget trip and out-of-memory becomes a thrown `LuaError`.
    public func call(arguments: Int32, results: Int32) throws(LuaError) {
        let p = limitsPointer
        // Garbage an earlier call left (a failed record's, or its host work's) would otherwise
        // count against this call: collect when the state holds most of the cap and has grown
        // by an eighth of it since the last collection (so live data alone never triggers one).
        let used = p.pointee.used, limit = p.pointee.limit
        if used > limit / 4 * 3 && used > usageAfterCollection + limit / 8 { collect() }
        let limits = storedLimits
        // One clock reading serves the deadline and the watchdog's start time.
        let now = encl_now_ns()
        p.pointee.instruction_limit = limits.instructions
        p.pointee.deadline_ns = limits.seconds > 0 ? now + Int64(limits.seconds * 1e9) : 0
        let status = encl_pcall(L, arguments, results, now)
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

    /// The most a rule file or module may hold.
    static let fileSizeLimit = 16 << 20

    static func memoryLimitText(_ bytes: Int) -> String {
        "memory limit of \(bytes >> 20) MiB exceeded; the rule builds too much data (raise --memory-limit if that is intended)"
    }

    /// Keeps the value on top in the registry and pops it; returns the reference. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func makeReference() -> Int32 { luaL_ref(L, encl_registryindex()) }

    /// Copies the value at `from` over the slot `to`. Never raises.
    public func copy(from: Int32, to: Int32) { lua_copy(L, from, to) }

    /// Frees a reference from `makeReference`. Never raises. (It only overwrites registry slots that
    /// `makeReference` created.)
    public func releaseReference(_ ref: Int32) { luaL_unref(L, encl_registryindex(), ref) }

    /// Pushes the value a reference from `makeReference` keeps. Never raises.
    public func pushReference(_ ref: Int32) { lua_rawgeti(L, encl_registryindex(), lua_Integer(ref)) }

    // MARK: - Swift functions

    /// The function `push(function:)` numbered `index`.
    fileprivate func function(at index: Int32) -> Unmanaged<LuaFunctionBox> { functions[Int(index)] }

    /// Pushes a Lua function that calls `function`. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func push(function: @escaping LuaFunction) {
        functions.append(.passRetained(LuaFunctionBox(function)))
        // The context is this object, unretained: the lua_State (and so every closure that
        // holds the pointer) is closed in our deinit, so it never outlives us.
        let context = Unmanaged.passUnretained(self).toOpaque()
        encl_pushswiftfunction(L, luaStateDispatch, context, Int32(functions.count - 1))
    }

    /// Sets `table[name] = function` on the table at the top of the stack. Allocates (see Raising),
    /// and runs the table's `__newindex` if it has one, which can raise: use it only on tables
    /// without a metatable (LuaKit's own module tables).
    public func setFunction(_ name: String, _ function: @escaping LuaFunction) {
        push(function: function)
        lua_setfield(L, -2, name)
    }

    /// Creates (or replaces) a global table `name` with the given functions. Allocates (see
    /// Raising), and runs `__newindex` of the globals table if a rule gave it one, which can raise:
    /// call it while the state is set up, before any rule code runs.
    public func defineModule(_ name: String, functions: [(String, LuaFunction)]) {
        lua_createtable(L, 0, Int32(functions.count))
        for (key, function) in functions { setFunction(key, function) }
        lua_setglobal(L, name)
    }

    // MARK: - Stack

    /// The index of the top slot (the number of values on the stack); setting it pops or pushes
    /// nils. Never raises. (`lua_settop` raises only when it closes a to-be-closed variable, and only
    /// Lua code creates those, never in a Swift function's frame.)
    public var top: Int32 {
        get { lua_gettop(L) }
        set { lua_settop(L, newValue) }
    }

    /// Pops `n` values. Never raises. (As `top`.)
    public func pop(_ n: Int32 = 1) { encl_pop(L, n) }

    /// The type of the value at `index` (`.none` past the top). Never raises.
    public func type(at index: Int32) -> LuaType { LuaType(rawValue: lua_type(L, index)) ?? .none }

    /// Whether `index` is past the top or holds nil. Never raises.
    public func isNoneOrNil(_ index: Int32) -> Bool { encl_isnoneornil(L, index) != 0 }

    /// The string at `index` (numbers are not converted), or nil. Never raises. (Without a conversion
    /// `lua_tolstring` allocates nothing.)
    public func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = encl_tolstring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
    }

    /// Calls `body` with the bytes of the string at `index` (valid only during the call). Never raises.
    public func withStringBytes<R>(at index: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = encl_tolstring(L, index, &length) else { return nil }
        return try body(UnsafeRawBufferPointer(start: p, count: length))
    }

    /// The integer at `index`: an integer, or a float with an exact integer value; nil for anything
    /// else, strings included. Never raises.
    public func integer(at index: Int32) -> Int64? {
        var isInteger: Int32 = 0
        let value = encl_tointeger(L, index, &isInteger)
        return isInteger != 0 && lua_type(L, index) == LUA_TNUMBER ? value : nil
    }

    /// The number at `index` as a Double, or nil when it is not a number (strings are not
    /// converted). Never raises.
    public func number(at index: Int32) -> Double? {
        lua_type(L, index) == LUA_TNUMBER ? encl_tonumber(L, index) : nil
    }

    /// Whether the value at `index` is a number with the integer subtype. Never raises.
    public func isInteger(at index: Int32) -> Bool { lua_isinteger(L, index) != 0 }

    /// Lua truthiness of the value at `index`: false only for nil and false. Never raises.
    public func boolean(at index: Int32) -> Bool { lua_toboolean(L, index) != 0 }

    /// Pushes `value` as a Lua string. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func push(_ value: String) {
        // A native string's bytes are read in place (no copy of the string, so no retain).
        let pushed: Void? = value.utf8.withContiguousStorageIfAvailable { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
        if pushed != nil { return }
        var value = value
        value.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes `bytes` as a Lua string (any bytes, not only UTF-8). Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func push(bytes: UnsafeRawBufferPointer) {
        _ = lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// Pushes an integer. Never raises.
    public func push(_ value: Int64) { lua_pushinteger(L, value) }
    /// Pushes a float. Never raises.
    public func push(_ value: Double) { lua_pushnumber(L, value) }
    /// Pushes a boolean. Never raises.
    public func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    /// Pushes nil. Never raises.
    public func pushNil() { lua_pushnil(L) }
    /// Pushes a copy of the value at `index`. Never raises.
    public func pushValue(at index: Int32) { lua_pushvalue(L, index) }
    /// Pushes a new table with room for `arrayCount` elements and `fieldCount` fields. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func newTable(arrayCount: Int32 = 0, fieldCount: Int32 = 0) { lua_createtable(L, arrayCount, fieldCount) }

    /// `t[key] = value` without metamethods, for the table at `table` and the value on top (popped).
    /// Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising). (A string key is never nil or NaN, the other ways `lua_rawset` raises.)
    public func rawSetField(_ key: String, in table: Int32) {
        let absolute = lua_absindex(L, table)
        push(key)
        lua_rotate(L, -2, 1)
        lua_rawset(L, absolute)
    }

    /// Pushes `t[key]` without metamethods. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising). (The key string.)
    @discardableResult
    public func rawGetField(_ key: String, in table: Int32) -> LuaType {
        let absolute = lua_absindex(L, table)
        push(key)
        return LuaType(rawValue: lua_rawget(L, absolute)) ?? .nil
    }

    /// Pops the value on top into the global `name`. Allocates (see Raising), and runs `__newindex`
    /// of the globals table if a rule gave it one, which can raise: call it while the state is set
    /// up, before any rule code runs.
    public func setGlobal(_ name: String) { lua_setglobal(L, name) }

    /// Pushes the global `name`, read raw (no `__index` runs), and returns its type. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    @discardableResult
    public func getGlobal(_ name: String) -> LuaType {
        encl_pushglobaltable(L)
        let type = rawGetField(name, in: -1)
        lua_rotate(L, -2, -1)
        pop()
        return type
    }

    /// `file:line` of the Lua function `level` levels up the stack (1 = the caller of a Swift
    /// function), or nil when that level is not Lua code. Never raises.
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
    // The state is alive for the whole call (it is running it): no retain and release per call.
    Unmanaged<LuaState>.fromOpaque(context!)._withUnsafeGuaranteedRef { dispatch(to: $0, index) }
}

private func dispatch(to state: LuaState, _ index: Int32) -> Int32 {
    do {
        // The box lives as long as the state, which is running this call: borrowed, not retained.
        return try state.function(at: index)._withUnsafeGuaranteedRef { try $0.function(state) }
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

extension LuaState {
    /// `t[k] = v` without metamethods, for the table at `index` and key, value on top (popped).
    /// A nil or NaN key, which `lua_rawset` would raise on across Swift frames, throws instead, with
    /// Lua's own message, so a Swift function can raise it through the trampoline. Otherwise it
    /// allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
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

    /// Pops the table on top and makes it the metatable of the value below it. Never raises.
    public func setMetatableOfValueBelow() {
        lua_setmetatable(L, -2)
    }
}
