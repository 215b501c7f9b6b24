/// A Swift function Lua can call, boxed so that the state can hold it as an unmanaged reference.
final class LuaFunctionBox {
    let function: LuaFunction

    init(_ function: @escaping LuaFunction) { self.function = function }
}
