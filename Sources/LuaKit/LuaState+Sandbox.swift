import CLua

#if canImport(Glibc)
import Glibc
#endif

extension LuaState {
    /// Globals removed from the standard library: anything that touches files, processes,
    /// the environment, the debugger or native code.
    static let removedGlobals = ["dofile", "loadfile", "load", "require", "module", "collectgarbage"]
    static let keptOSFunctions = ["time", "date", "clock", "difftime"]

    /// Opens `string`, `table`, `math`, `utf8`, the safe part of the base library and `os.time`,
    /// `os.date`, `os.clock`, `os.difftime`; replaces `pcall`/`xpcall` with versions that cannot
    /// swallow an exceeded limit, `load` with a text-only version, and `require` with a loader
    /// confined to `moduleDirectory`.
    func installSandbox(moduleDirectory: String?) throws {
        luaL_requiref(L, "_G", luaopen_base, 1)
        luaL_requiref(L, "string", luaopen_string, 1)
        luaL_requiref(L, "table", luaopen_table, 1)
        luaL_requiref(L, "math", luaopen_math, 1)
        luaL_requiref(L, "utf8", luaopen_utf8, 1)
        luaL_requiref(L, "os", luaopen_os, 1)
        top = 0

        // os: keep only the clock and calendar functions.
        lua_createtable(L, 0, 4)
        getGlobal("os")
        for name in LuaState.keptOSFunctions {
            rawGetField(name, in: -1)
            rawSetField(name, in: -3)
        }
        pop()
        setGlobal("os")

        // string.dump makes binary chunks; nothing may load them, and nothing needs them.
        getGlobal("string")
        pushNil()
        rawSetField("dump", in: -2)
        pop()

        getGlobal("load")
        let standardLoad = makeReference()
        encl_pushglobaltable(L)
        for name in LuaState.removedGlobals {
            pushNil()
            rawSetField(name, in: -2)
        }
        pop()
        encl_open_sandboxed_pcall(L)

        // load(chunk, name, mode, env): text chunks only.
        let prelude = """
            local standard_load, load_module, has_modules = ...
            function load(chunk, chunkname, mode, env)
              if env == nil then env = _ENV end
              return standard_load(chunk, chunkname, "t", env)
            end
            local loaded = {}
            function require(name)
              if type(name) ~= "string" then error("require: module name must be a string", 2) end
              local value = loaded[name]
              if value ~= nil then return value end
              if not has_modules then error("require: modules are not available here", 2) end
              local chunk, message = load_module(name)
              if not chunk then error(message, 2) end
              value = chunk(name)
              if value == nil then value = true end
              loaded[name] = value
              return value
            end
            """
        try load(Array(prelude.utf8), chunkName: "=sandbox")
        pushReference(standardLoad)
        push(function: { state in try state.loadModule(directory: moduleDirectory ?? "") })
        push(moduleDirectory != nil)
        try call(arguments: 3, results: 0)
    }

    /// `require`'s loader: compiles `<directory>/<name>.lua` (dots become slashes) as text.
    private func loadModule(directory: String) throws -> Int32 {
        guard let name = string(at: 1) else { throw LuaRaise("require: module name must be a string") }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
        guard allowed, !name.isEmpty, !name.hasPrefix("."), !name.contains("..") else {
            return failure("require: invalid module name '\(name)' (use letters, digits, '_', '-' and '.')")
        }
        let relative = name.split(separator: ".").joined(separator: "/") + ".lua"
        let path = directory.isEmpty ? relative : directory + "/" + relative
        let bytes: [UInt8]
        do { bytes = try readSourceFile(path) } catch {
            return failure("require: module '\(name)' not found: cannot read \(path) (\(error.reason))")
        }
        let status = loadText(bytes, chunkName: "@" + path)
        guard status == LUA_OK else {
            return failure(popString() ?? "require: cannot load \(path)")
        }
        return 1
    }

    /// nil, message: the prelude raises it at the caller of `require`.
    private func failure(_ message: String) -> Int32 {
        pushNil()
        push(message)
        return 2
    }
}
