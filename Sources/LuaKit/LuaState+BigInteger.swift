import CLua
import JSONKit

/// Integers from JSON that do not fit in Lua's 64 bits. Lua would round them to a float
/// (`12345678901234567890` becomes `1.2345678901234567e+19`), so they live in a userdata that
/// holds their digits: a rule can pass one through, compare it, `tostring` it or concatenate it,
/// and it is encoded back as the same digits. Arithmetic on it raises an error that says why.
extension LuaState {
    /// Registry key of the metatable every big integer shares.
    static let bigIntegerMetatableKey = "encharge.json.biginteger"

    func installBigIntegerMetatable() {
        lua_createtable(L, 0, 24)
        push("integer")
        rawSetField("__name", in: -2)
        // getmetatable() answers this string, so a rule cannot reach or change the metatable.
        push("integer")
        rawSetField("__metatable", in: -2)
        setFunction("__tostring") { state in
            guard let digits = state.bigIntegerDigits(at: 1) else { return 0 }
            state.push(digits)
            return 1
        }
        setFunction("__concat") { state in
            var text = ""
            for index: Int32 in 1...2 {
                if let digits = state.bigIntegerDigits(at: index) {
                    text += digits
                } else if state.type(at: index) == .string || state.type(at: index) == .number {
                    var length = 0
                    let p = encl_tolstring(state.L, index, &length)!
                    text += String(decoding: UnsafeRawBufferPointer(start: p, count: length), as: UTF8.self)
                } else {
                    throw LuaRaise("attempt to concatenate a \(state.type(at: index).name) value")
                }
            }
            state.push(text)
            return 1
        }
        setFunction("__eq") { state in
            let a = state.bigIntegerDigits(at: 1)
            state.push(a != nil && a == state.bigIntegerDigits(at: 2))
            return 1
        }
        let refuse: LuaFunction = { state in
            let digits = state.bigIntegerDigits(at: 1) ?? state.bigIntegerDigits(at: 2) ?? "?"
            throw LuaRaise(
                "integer \(digits) does not fit in 64 bits, so it cannot be used in arithmetic or comparisons; "
                    + "pass it through unchanged, use tostring(), or quote it as a string in the input")
        }
        for name in [
            "__add", "__sub", "__mul", "__div", "__mod", "__pow", "__unm", "__idiv", "__band", "__bor", "__bxor",
            "__shl", "__shr", "__bnot", "__lt", "__le", "__len", "__index", "__newindex", "__call",
        ] {
            setFunction(name, refuse)
        }
        lua_setfield(L, encl_registryindex(), LuaState.bigIntegerMetatableKey)
    }

    /// Pushes a big integer holding `digits` (ASCII, with a leading `-` when negative). Allocates: can raise only on out-of-memory while the allocator is armed, so never when called from Swift (see Raising).
    func pushBigInteger(digits: UnsafeRawBufferPointer) {
        let storage = lua_newuserdatauv(L, digits.count, 0)!
        if let source = digits.baseAddress { storage.copyMemory(from: source, byteCount: digits.count) }
        lua_getfield(L, encl_registryindex(), LuaState.bigIntegerMetatableKey)
        lua_setmetatable(L, -2)
    }

    /// The digits of the big integer at `index`, or nil for any other value. Never raises.
    public func bigIntegerDigits(at index: Int32) -> String? {
        bigIntegerBytes(at: index).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The digits of the big integer at `index` as the userdata holds them (valid while it is on
    /// the stack), or nil for any other value. Never raises.
    func bigIntegerBytes(at index: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, index) == LUA_TUSERDATA else { return nil }
        let absolute = lua_absindex(L, index)
        guard lua_getmetatable(L, absolute) != 0 else { return nil }
        lua_getfield(L, encl_registryindex(), LuaState.bigIntegerMetatableKey)
        let isBigInteger = lua_rawequal(L, -1, -2) != 0
        encl_pop(L, 2)
        guard isBigInteger, let storage = lua_touserdata(L, absolute) else { return nil }
        return UnsafeRawBufferPointer(start: storage, count: Int(lua_rawlen(L, absolute)))
    }
}

extension LuaState {
    /// Keys repeated within one JSON object for the first time since the last call (for a
    /// warning per key); `jsonDuplicateKeys.counts` keeps the totals.
    public func takeNewJSONDuplicateKeys() -> [String] { jsonDuplicateKeys.takeNew() }

    /// The repeated keys noted since the last call, which then starts afresh: for a job that maps
    /// on several states and adds up, in input order, what each record's decoding found.
    package func takeJSONDuplicateKeys() -> JSONDuplicateKeys {
        defer { jsonDuplicateKeys = JSONDuplicateKeys() }
        return jsonDuplicateKeys
    }
}
