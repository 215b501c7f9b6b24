import CLua
import JSONKit

/// JSON ⇄ Lua, lossless:
/// - integers stay Lua integers, floats stay floats;
/// - arrays carry a marker metatable (`__json = "array"`) so empty ones stay arrays, and empty
///   objects carry `__json = "object"`;
/// - a null object member is absent in Lua (so `if r.email then` works), but the table's
///   metatable remembers it (`__jsonnulls`, shared by objects with the same null keys and hidden
///   from `getmetatable` like the markers) and encoding writes it back as `null` unless the rule
///   set the member; a null array element is `json.null` so positions and `#` hold;
/// - an integer beyond 64 bits is a userdata holding its digits: `tostring` and `..` give the
///   digits, `==` compares them, encoding writes them back exactly, and arithmetic raises an error
///   (it is never rounded to a float).
extension LuaState {
    static let jsonMarkerField = ENCL_JSON_MARKER_FIELD
    static let jsonNullsField = ENCL_JSON_NULLS_FIELD

    /// The marker metatables every decoded array and empty object shares. `__metatable` hides
    /// them from `getmetatable`: a rule that could reach one could add a `__gc` field, and the
    /// next table the host marks with it would get a finalizer (see encl_sandbox_setmetatable).
    func installJSONMetatables() {
        lua_createtable(L, 0, 2)
        push("array")
        rawSetField(LuaState.jsonMarkerField, in: -2)
        push("json.array")
        rawSetField("__metatable", in: -2)
        arrayMetatableRef = makeReference()
        lua_createtable(L, 0, 2)
        push("object")
        rawSetField(LuaState.jsonMarkerField, in: -2)
        push("json.object")
        rawSetField("__metatable", in: -2)
        objectMetatableRef = makeReference()
        installBigIntegerMetatable()
    }

    /// Parses JSON text and pushes the value it holds. With `underMemoryCap` (`json.decode`, a
    /// request body) the tables it builds count against the state's memory cap: past it, the
    /// parse stops with a memory error and the call is marked as over its limit. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising). (The
    /// memory cap of `underMemoryCap` is checked in Swift and thrown, never raised.)
    public func pushJSON(
        parsing bytes: UnsafeRawBufferPointer, maxDepth: Int = 512, underMemoryCap: Bool = false
    ) throws(JSONParseError) {
        var builder = LuaJSONBuilder(state: self)
        defer { keepJSONSlots(builder.slots, capacity: builder.slotCapacity) }
        if underMemoryCap { builder.memoryCap = limitsPointer }
        jsonParser.maxDepth = maxDepth
        let base = top
        do {
            try jsonParser.parse(bytes, into: &builder)
        } catch let error as JSONParseError {
            top = base
            throw error
        } catch {
            top = base
            throw JSONParseError(offset: 0, reason: "\(error)")
        }
    }

    /// Pushes a JSON value with the same conventions as `pushJSON(parsing:)`. Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    public func push(json value: JSONValue) {
        lua_checkstack(L, 4)
        switch value {
        case .null: encl_pushjsonnull(L)
        case .bool(let b): push(b)
        case .integer(let i): push(i)
        case .bigInteger(let digits):
            var digits = digits
            digits.withUTF8 { pushBigInteger(digits: UnsafeRawBufferPointer($0)) }
        case .double(let d): push(d)
        case .string(let s): push(s)
        case .array(let elements):
            lua_createtable(L, Int32(clamping: elements.count), 0)
            for (i, element) in elements.enumerated() {
                push(json: element)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            pushReference(arrayMetatableRef)
            lua_setmetatable(L, -2)
        case .object(let object):
            lua_createtable(L, 0, Int32(clamping: object.count))
            var nulls: [String] = []
            for member in object.members {
                if case .null = member.value {
                    nulls.append(member.key)
                    continue
                }
                push(member.key)
                push(json: member.value)
                lua_rawset(L, -3)
            }
            if !nulls.isEmpty {
                setNullsMetatable(keys: nulls)
            } else if object.isEmpty {
                pushReference(objectMetatableRef)
                lua_setmetatable(L, -2)
            }
        }
    }

    private func setNullsMetatable(keys: [String]) {
        lua_createtable(L, 0, 3)
        push("object")
        rawSetField(LuaState.jsonMarkerField, in: -2)
        // Protected, as the metatables of decoded objects with nulls are (see LuaNullsMetatables).
        push("json.object")
        rawSetField("__metatable", in: -2)
        lua_createtable(L, 0, Int32(keys.count))
        for key in keys {
            push(key)
            push(true)
            lua_rawset(L, -3)
        }
        rawSetField(LuaState.jsonNullsField, in: -2)
        lua_setmetatable(L, -2)
    }

    /// Converts the Lua value at `index` to JSON. Rejects what JSON cannot hold: functions,
    /// userdata, NaN and infinities, cycles, tables mixing list items and named keys, sparse
    /// lists, non-string keys and invalid UTF-8; `path` prefixes the location in errors.
    ///
    /// The conversion runs in Swift, outside the allocator and the count hook, so it is bounded
    /// here by the same caps: the estimated size of the result may not pass `maxBytes` nor the
    /// state's memory cap, and every `LuaConversionBudget.checkInterval` values it charges the
    /// call's instruction budget and checks its deadline. A table shared many times (a DAG) is
    /// counted each time it is reached, as the JSON repeats it. Past the memory cap, the
    /// instruction budget or the deadline, the call is marked as over its limit, so `pcall`
    /// cannot swallow the error. Never raises. (It reads raw, so no metamethod runs, and its limits are
    /// checked in Swift and thrown as `LuaConversionError`.)
    public func toJSON(
        at index: Int32, path: String = "", maxDepth: Int = 128, maxBytes: Int? = nil
    ) throws(LuaConversionError) -> JSONValue {
        var visiting: [UnsafeRawPointer] = []
        var budget = LuaConversionBudget(memoryCap: limits.memoryBytes, maxBytes: maxBytes)
        do {
            return try toJSON(
                at: lua_absindex(L, index), depth: 0, maxDepth: maxDepth, visiting: &visiting, budget: &budget)
        } catch {
            throw error.under(path)
        }
    }

    /// Charges one converted value of about `bytes` bytes.
    @inline(__always)
    private func charge(_ budget: inout LuaConversionBudget, bytes: Int) throws(LuaConversionError) {
        budget.bytesLeft &-= bytes
        budget.valuesUntilCheck &-= 1
        if budget.bytesLeft < 0 || budget.valuesUntilCheck == 0 { try checkBudget(&budget) }
    }

    private func checkBudget(_ budget: inout LuaConversionBudget) throws(LuaConversionError) {
        let p = limitsPointer
        if budget.bytesLeft < 0 {
            guard budget.boundByMemoryCap else {
                throw LuaConversionError(
                    path: "",
                    reason: "value is larger than \(budget.maxBytes) bytes, the most one event may hold; send less")
            }
            p.pointee.tripped = Int32(ENCL_TRIP_MEMORY.rawValue)
            throw LuaConversionError(path: "", reason: LuaState.memoryLimitText(limits.memoryBytes))
        }
        budget.valuesUntilCheck = LuaConversionBudget.checkInterval
        p.pointee.instructions += Int64(LuaConversionBudget.checkInterval)
        if p.pointee.instruction_limit > 0 && p.pointee.instructions > p.pointee.instruction_limit {
            p.pointee.tripped = Int32(ENCL_TRIP_INSTRUCTIONS.rawValue)
            throw LuaConversionError(
                path: "",
                reason: "instruction limit of \(p.pointee.instruction_limit) exceeded (converting a very large table?)")
        }
        if p.pointee.deadline_ns > 0 && encl_now_ns() > p.pointee.deadline_ns {
            p.pointee.tripped = Int32(ENCL_TRIP_DEADLINE.rawValue)
            throw LuaConversionError(path: "", reason: "time limit exceeded (converting a very large table?)")
        }
    }

    private func toJSON(
        at index: Int32, depth: Int, maxDepth: Int, visiting: inout [UnsafeRawPointer],
        budget: inout LuaConversionBudget
    ) throws(LuaConversionError) -> JSONValue {
        // Errors carry the path below this value; each level prefixes its own key or index on
        // the way out, so no path string is built for values that convert fine (the hot path).
        let path = ""
        try charge(&budget, bytes: LuaConversionBudget.valueBytes)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            return .null
        case LUA_TBOOLEAN:
            return .bool(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            var isInteger: Int32 = 0
            let i = encl_tointeger(L, index, &isInteger)
            if lua_isinteger(L, index) != 0 { return .integer(i) }
            let d = encl_tonumber(L, index)
            guard d.isFinite else {
                throw LuaConversionError(
                    path: path,
                    reason:
                        "\(d.isNaN ? "NaN" : d > 0 ? "infinity" : "-infinity") cannot be sent as JSON (NaN and infinity are not numbers in JSON)"
                )
            }
            return .double(d)
        case LUA_TSTRING:
            var length = 0
            let p = encl_tolstring(L, index, &length)!
            try charge(&budget, bytes: length)
            let bytes = UnsafeRawBufferPointer(start: p, count: length)
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw LuaConversionError(path: path, reason: "string is not valid UTF-8")
            }
            return .string(s)
        case LUA_TLIGHTUSERDATA:
            if encl_isjsonnull(L, index) != 0 { return .null }
            throw LuaConversionError(path: path, reason: "a userdata value cannot be sent as JSON")
        case LUA_TTABLE:
            return try tableToJSON(at: index, depth: depth, maxDepth: maxDepth, visiting: &visiting, budget: &budget)
        case LUA_TUSERDATA:
            if let digits = bigIntegerDigits(at: index) { return .bigInteger(digits) }
            throw LuaConversionError(path: path, reason: "a userdata value cannot be sent as JSON")
        default:
            let name = LuaType(rawValue: lua_type(L, index))?.name ?? "unknown"
            throw LuaConversionError(path: path, reason: "a \(name) value cannot be sent as JSON")
        }
    }

    private func tableToJSON(
        at index: Int32, depth: Int, maxDepth: Int, visiting: inout [UnsafeRawPointer],
        budget: inout LuaConversionBudget
    ) throws(LuaConversionError) -> JSONValue {
        let path = ""
        guard depth < maxDepth else {
            throw LuaConversionError(path: path, reason: "nested deeper than \(maxDepth) levels")
        }
        let pointer = lua_topointer(L, index)!
        if visiting.contains(pointer) {
            throw LuaConversionError(path: path, reason: "table contains itself (a cycle cannot be sent as JSON)")
        }
        guard lua_checkstack(L, 6) != 0 else {
            throw LuaConversionError(path: path, reason: "nested too deeply")
        }
        visiting.append(pointer)
        defer { visiting.removeLast() }

        // What the metatable says: an explicit array/object marker and remembered nulls.
        var marker: String? = nil
        var hasNulls = false
        let base = top
        if lua_getmetatable(L, index) != 0 {
            if rawGetField(LuaState.jsonMarkerField, in: -1) == .string { marker = string(at: -1) }
            pop()
            if rawGetField(LuaState.jsonNullsField, in: -1) == .table { hasNulls = true } else { pop() }
            // Stack: metatable, [nulls]
        }

        var arrayCount = 0
        var maxIndex: lua_Integer = 0
        var members: [(key: String, value: JSONValue)] = []
        var elements: [(Int, JSONValue)] = []
        var sawStringKey = false
        var sawOtherKey = false

        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            // key at -2, value at -1
            if lua_type(L, -2) == LUA_TNUMBER, lua_isinteger(L, -2) != 0 {
                var isInteger: Int32 = 0
                let k = encl_tointeger(L, -2, &isInteger)
                guard k >= 1 else {
                    top = base
                    throw LuaConversionError(path: path, reason: "list index \(k) is not positive (lists start at 1)")
                }
                sawOtherKey = true
                arrayCount += 1
                maxIndex = max(maxIndex, k)
                let value = try convertChild(
                    "[\(k - 1)]", depth: depth, maxDepth: maxDepth, visiting: &visiting, budget: &budget, base: base)
                elements.append((Int(k), value))
            } else if lua_type(L, -2) == LUA_TSTRING {
                sawStringKey = true
                var length = 0
                let p = encl_tolstring(L, -2, &length)!
                guard let key = String(validating: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
                else {
                    top = base
                    throw LuaConversionError(path: path, reason: "a key is not valid UTF-8")
                }
                do { try charge(&budget, bytes: length + LuaConversionBudget.valueBytes) } catch {
                    top = base
                    throw error
                }
                let value = try convertChild(
                    key, depth: depth, maxDepth: maxDepth, visiting: &visiting, budget: &budget, base: base)
                members.append((key: key, value: value))
            } else {
                let name = LuaType(rawValue: lua_type(L, -2))?.name ?? "unknown"
                top = base
                throw LuaConversionError(
                    path: path,
                    reason: "a \(name) key cannot be sent as JSON (keys must be strings, or 1..n for a list)")
            }
            pop()
        }

        if sawStringKey && sawOtherKey {
            top = base
            throw LuaConversionError(path: path, reason: "table mixes list items and named keys; use one or the other")
        }
        if sawOtherKey || (marker == "array" && !sawStringKey) {
            guard maxIndex == lua_Integer(arrayCount) else {
                top = base
                throw LuaConversionError(
                    path: path,
                    reason:
                        "list has holes (\(arrayCount) items but index \(maxIndex)); use json.null for missing items")
            }
            top = base
            elements.sort { $0.0 < $1.0 }
            return .array(elements.map(\.1))
        }
        if hasNulls {
            // Stack: metatable, nulls. Each remembered null the rule did not set comes back.
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                pop()
                if lua_type(L, -1) == LUA_TSTRING, let key = string(at: -1) {
                    pushValue(at: -1)
                    if lua_rawget(L, index) == LUA_TNIL { members.append((key: key, value: .null)) }
                    pop()
                }
            }
        }
        top = base
        if members.isEmpty { return .object(JSONObject()) }
        if members.count > 1 {
            members.sort { JSONObject.keyPrecedes($0.key, $1.key) }
        }
        return .object(JSONObject(sortedMembers: members))
    }

    private func convertChild(
        _ component: @autoclosure () -> String, depth: Int, maxDepth: Int, visiting: inout [UnsafeRawPointer],
        budget: inout LuaConversionBudget, base: Int32
    ) throws(LuaConversionError) -> JSONValue {
        do {
            return try toJSON(
                at: lua_absindex(L, -1), depth: depth + 1, maxDepth: maxDepth, visiting: &visiting, budget: &budget)
        } catch {
            top = base
            throw error.under(component())
        }
    }

    // MARK: - The `json` module

    /// Defines the global `json` table: `decode`, `encode(v, {pretty=, sort_keys=})`, `null`,
    /// `array(t)`, `object(t)`. Allocates (see Raising), and runs `__newindex` of the globals table
    /// if a rule gave it one, which can raise: call it while the state is set up.
    public func installJSONModule() {
        lua_createtable(L, 0, 5)
        setFunction("decode") { state in
            let result: Void?
            do {
                result = try state.withStringBytes(
                    at: 1,
                    { bytes in
                        try state.pushJSON(parsing: bytes, underMemoryCap: true)
                    })
            } catch  where state.limitsPointer.pointee.tripped == Int32(ENCL_TRIP_MEMORY.rawValue) {
                throw LuaRaise("json.decode: \(LuaState.memoryLimitText(state.limits.memoryBytes))")
            }
            guard result != nil else {
                throw LuaRaise("json.decode: expected a string, got \(state.type(at: 1).name)")
            }
            return 1
        }
        setFunction("encode") { state in
            var pretty = false
            if state.type(at: 2) == .table {
                state.rawGetField("pretty", in: 2)
                pretty = state.boolean(at: -1)
                state.pop()
            }
            let value: JSONValue
            do { value = try state.toJSON(at: 1) } catch let error as LuaConversionError {
                throw LuaRaise("json.encode: \(error.description)")
            }
            var writer = JSONWriter(pretty: pretty)
            writer.write(value)
            writer.bytes.withUnsafeBytes { state.push(bytes: $0) }
            return 1
        }
        encl_pushjsonnull(L)
        rawSetField("null", in: -2)
        setFunction("array") { state in try state.markTable(ref: state.arrayMetatableRef, name: "json.array") }
        setFunction("object") { state in try state.markTable(ref: state.objectMetatableRef, name: "json.object") }
        setGlobal("json")
    }

    private func markTable(ref: Int32, name: String) throws -> Int32 {
        if isNoneOrNil(1) {
            newTable()
        } else {
            guard type(at: 1) == .table else { throw LuaRaise("\(name): expected a table, got \(type(at: 1).name)") }
            top = 1
        }
        pushReference(ref)
        lua_setmetatable(L, -2)
        return 1
    }
}

/// What one `toJSON` conversion may still spend (see `LuaState.toJSON(at:path:maxDepth:maxBytes:)`).
struct LuaConversionBudget {
    /// Values converted between two checks of the instruction budget and the deadline: a clock
    /// read per this many values keeps the hot path cheap.
    static let checkInterval = 1024
    /// What one value costs in the Swift tree besides its string bytes, about a `JSONValue` and
    /// its share of an array or member list.
    static let valueBytes = 32

    let maxBytes: Int
    let boundByMemoryCap: Bool
    var bytesLeft: Int
    var valuesUntilCheck = checkInterval

    init(memoryCap: Int, maxBytes: Int?) {
        self.maxBytes = min(maxBytes ?? memoryCap, memoryCap)
        boundByMemoryCap = self.maxBytes == memoryCap
        bytesLeft = self.maxBytes
    }
}
