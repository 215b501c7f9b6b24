/// `LuaJSONEncoder` gave up on a value: `LuaState.toJSON` would reject it, a member filter would
/// not take it as is, or a budget ran out. It carries no message on purpose: the caller converts the
/// value again the slow way, which says exactly what is wrong, so the fast path formats nothing.
package struct LuaJSONEncoderRefusal: Error {
    /// A refusal; see the type.
    package init() {}
}
