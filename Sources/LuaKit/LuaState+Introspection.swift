import CLua

/// Reading a loaded rule's own structure: metatables, the string keys of a table, where a
/// function is defined. Used by the rule engine for did-you-mean errors and warnings.
extension LuaState {
    /// Pushes the metatable of the value at `index` and returns true, or pushes nothing and
    /// returns false when it has none. Never raises.
    public func pushMetatable(of index: Int32) -> Bool {
        lua_getmetatable(L, index) != 0
    }

    /// Pops the table on top and makes it the metatable of the table at `index`. Never raises.
    public func setMetatable(ofTableAt index: Int32) {
        lua_setmetatable(L, index)
    }

    /// The string keys of the table at `index`, unsorted. Raw iteration: no metamethods run.
    /// Never raises. (`lua_next` raises only for a key not in the table; it gets back the key it
    /// returned, unchanged.)
    public func stringKeys(ofTableAt index: Int32) -> [String] {
        let table = lua_absindex(L, index)
        var keys: [String] = []
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            // Read the key without converting it in place (lua_next needs it unchanged).
            if lua_type(L, -2) == LUA_TSTRING, let key = string(at: -2) { keys.append(key) }
            pop()
        }
        return keys
    }

    /// The line where the Lua function at `index` is defined, or nil for a C function. Never raises.
    public func definitionLine(ofFunctionAt index: Int32) -> Int? {
        guard lua_type(L, index) == LUA_TFUNCTION else { return nil }
        var ar = lua_Debug()
        lua_pushvalue(L, index)
        guard lua_getinfo(L, ">S", &ar) != 0, ar.linedefined > 0 else { return nil }
        return Int(ar.linedefined)
    }
}
