/// The kind of a Lua value.
public enum LuaType: Int32, Sendable {
    /// The kinds, with raw values equal to Lua's `LUA_T*` constants: `none` is an empty stack slot
    /// (an absent argument), `nil`, `boolean`, `lightUserdata` (a bare C pointer), `number` (integer
    /// or float), `string`, `table`, `function` (Lua or Swift), `userdata` (full userdata) and
    /// `thread` (a coroutine).
    case none = -1, `nil` = 0, boolean = 1, lightUserdata = 2, number = 3, string = 4, table = 5,
        function = 6, userdata = 7, thread = 8

    /// The name Lua's `type()` gives the kind (`none` reads as `nil`), for error messages.
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
