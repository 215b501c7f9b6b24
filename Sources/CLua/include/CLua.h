// Lua 5.4 for Swift: the Debian headers plus the few things Swift cannot do itself.
//
// Why each shim exists:
// - Lua's function-like macros (lua_pcall, lua_pop, lua_tostring, ...) are not imported by Swift.
// - Lua raises errors with longjmp; a longjmp across Swift frames is undefined behaviour. Swift
//   functions exposed to Lua therefore return a status to `encl_trampoline`, which raises in C.
// - The memory cap, the instruction budget and the wall-clock deadline are enforced by an
//   allocator and a count hook written in C, so no Swift frame is ever on the stack when they fire.
#ifndef ENCHARGE_CLUA_H
#define ENCHARGE_CLUA_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>
#include <stddef.h>
#include <stdint.h>

/// Which limit stopped the last protected call.
enum encl_trip {
  ENCL_TRIP_NONE = 0,
  ENCL_TRIP_MEMORY = 1,
  ENCL_TRIP_INSTRUCTIONS = 2,
  ENCL_TRIP_DEADLINE = 3,
};

/// Limits and accounting for one lua_State. Owned by the Swift `LuaState` that created the state;
/// it outlives the state and is only touched by the thread that currently uses the state.
typedef struct encl_limits {
  size_t used;              // bytes currently allocated by this state
  size_t limit;             // allocations fail past this while `armed`
  size_t peak;              // highest `used` seen
  int armed;                // 1 while Lua code runs inside encl_pcall
  int tripped;              // enum encl_trip, set when a limit fires
  int64_t instructions;     // instructions counted in the current call (granularity ENCL_HOOK_STEP)
  int64_t instruction_limit; // 0 = none
  int64_t deadline_ns;      // CLOCK_MONOTONIC deadline of the current call, 0 = none
  int last_line;            // line the count hook last saw running (0 = none yet)
  char last_source[64];     // chunk short name at that point
  int64_t *call_started;    // optional: the watchdog's view of the current call (see encl_call_begin)
  int holds_traceback;      // 1 while the registry holds a traceback a failed call left
} encl_limits;

#define ENCL_HOOK_STEP 1000
/// Longest error message a protected call returns; longer ones are cut (a `__tostring` can build
/// any string the memory cap allows).
#define ENCL_MESSAGE_MAX 4096
/// `*call_started` once a watchdog has given the call up.
#define ENCL_CALL_ABANDONED (-1)

/// A Swift function callable from Lua. It must never raise: on error it pushes a message and
/// returns -1 (the trampoline adds the caller's `file:line:` prefix and raises) or -2 (raise the
/// value on top as is). Otherwise it returns the number of results it pushed.
typedef int (*encl_swift_function)(lua_State *L, void *context, int index);

/// Creates a state whose allocator enforces `limits` and whose count hook enforces the budget.
lua_State *encl_newstate(encl_limits *limits);
encl_limits *encl_limits_of(lua_State *L);
int64_t encl_now_ns(void);

/// Calls the function below `nargs` arguments with a traceback message handler, the allocator
/// armed and the hook counting. On error the message is on top and, if any, the traceback is
/// stored in the registry (see encl_pushtraceback). `now` is encl_now_ns() as the caller read it
/// just before (the start time the watchdog sees).
int encl_pcall(lua_State *L, int nargs, int nresults, int64_t now);
void encl_pushtraceback(lua_State *L);

/// Pushes a closure that calls `fn(L, context, index)` through the trampoline.
void encl_pushswiftfunction(lua_State *L, encl_swift_function fn, void *context, int index);

/// `pcall` and `xpcall` for the sandbox: like the standard ones, except that an error from an
/// exceeded limit is raised again, so a rule cannot catch its way past its budget, and that
/// xpcall's handler runs after unwinding, under the budget. Also wraps `setmetatable` (no
/// `__gc`), `string.rep` and the pattern functions (see encl_open_patterns).
void encl_open_sandboxed_pcall(lua_State *L);

/// Adds `steps` units of work done inside a C function to the instruction count and raises, at the
/// calling rule line, when the instruction budget or the deadline is spent. For C loops no hook
/// can interrupt (the pattern matcher).
void encl_charge(lua_State *L, int64_t steps);

/// Replaces `find`, `match`, `gmatch` and `gsub` in the string table at `index` with versions
/// whose matcher charges its steps (see CLuaPattern.c). Called by encl_open_sandboxed_pcall.
void encl_open_patterns(lua_State *L, int index);

/// The watchdog protocol over `limits->call_started` (all atomic). encl_pcall stores the start
/// time of the outermost call and clears it at the end; a watchdog on another thread reads it
/// with encl_call_started and gives an overrunning call up with encl_call_abandon (which fails
/// if the call ended meanwhile). A thread whose call was given up parks for ever when the call
/// returns, so it never touches what the watchdog now owns.
int encl_call_begin(encl_limits *limits, int64_t now);
void encl_call_end(encl_limits *limits);
int64_t encl_call_started(const int64_t *call_started);
int encl_call_abandon(int64_t *call_started, int64_t started);

/// Writes "file:line" of the innermost Lua function on the stack of a call a watchdog gave up, for
/// its report; 0 if there is none. Called from the watchdog thread while the state's own thread
/// is stuck inside one C function: that function does not change the call chain read here, and
/// "Sl" reads only the stack and the function prototypes, allocating nothing.
int encl_stuck_position(lua_State *L, char *buffer, size_t size);

/// Loads a text chunk only (binary chunks are refused).
int encl_loadtext(lua_State *L, const char *buffer, size_t size, const char *chunkname);

static inline void encl_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
static inline void encl_newtable(lua_State *L) { lua_createtable(L, 0, 0); }
static inline int encl_upvalueindex(int i) { return LUA_REGISTRYINDEX - i; }
static inline int encl_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int encl_isnoneornil(lua_State *L, int i) { return lua_type(L, i) <= 0; }
static inline lua_Integer encl_ridx_globals(void) { return LUA_RIDX_GLOBALS; }
static inline void encl_pushglobaltable(lua_State *L) { lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); }
static inline void encl_insert(lua_State *L, int idx) { lua_rotate(L, idx, 1); }
static inline void encl_remove(lua_State *L, int idx) { lua_rotate(L, idx, -1); lua_settop(L, -2); }
static inline void encl_replace(lua_State *L, int idx) { lua_copy(L, -1, idx); lua_settop(L, -2); }
static inline const char *encl_tolstring(lua_State *L, int idx, size_t *len) { return lua_tolstring(L, idx, len); }
static inline lua_Number encl_tonumber(lua_State *L, int idx) { return lua_tonumberx(L, idx, NULL); }
static inline lua_Integer encl_tointeger(lua_State *L, int idx, int *isnum) { return lua_tointegerx(L, idx, isnum); }
/// The metatable fields that mark decoded JSON: `__json` ("array" or "object") and `__jsonnulls`
/// (the set of keys whose decoded value was null). Imported into Swift as String constants.
#define ENCL_JSON_MARKER_FIELD "__json"
#define ENCL_JSON_NULLS_FIELD "__jsonnulls"

/// The `type` of an encl_member that is a null its table remembers from decoded JSON (a key of the
/// metatable's `__jsonnulls` the table does not set), as opposed to LUA_TNONE, an empty stack slot.
#define ENCL_TREMEMBEREDNULL (-2)
/// What encl_members answers instead of a count: the table cannot be sent as JSON as it is (the
/// slow path names why), or it has more members than `capacity` (grow the array and call again).
#define ENCL_MEMBERS_REFUSED (-1)
#define ENCL_MEMBERS_NO_ROOM (-2)

/// One value as the JSON encoder reads it, with its key when it is a table member: no further call
/// into Lua is needed to write a scalar. `key` and `string` point into strings the table (or the
/// stack slot read) holds, so they stay valid while it does and nothing modifies it.
typedef struct encl_member {
  const char *key;          // a string key's bytes; NULL for a list index or a value read alone
  size_t key_length;
  lua_Integer index;        // a list member's index (1...n)
  union {
    lua_Integer integer;    // LUA_TNUMBER with is_integer, and LUA_TBOOLEAN (0 or 1)
    lua_Number number;      // LUA_TNUMBER, a float
    const char *string;     // LUA_TSTRING, `string_length` bytes
    const void *pointer;    // LUA_TLIGHTUSERDATA
  } value;
  size_t string_length;
  int type;                 // LUA_T* of the value, or ENCL_TREMEMBEREDNULL
  int is_integer;           // LUA_TNUMBER: an integer (not a float)
  int slot;                 // the stack slot of a table, full userdata, function or thread value; else 0
  int key_plain;            // a string key: 1 when it is ASCII with no quote, backslash or control
                            // character (so valid UTF-8 that a JSON string holds as is), else 0
} encl_member;

/// Reads the value at `idx` into `member` (its value part; the key part is left alone), without
/// converting it. Tables, full userdata, functions and threads keep `idx` as their slot.
void encl_member_at(lua_State *L, int idx, encl_member *member);

/// Reads every member of the table at the absolute index `table` in one pass, as `toJSON` sees
/// it: string keys, or positive integer keys for a list (a table marked `__json = "array"` with no
/// string key is a list too, an empty one included), plus the nulls its `__jsonnulls` remembers.
/// Writes them to `members` in output order: keys by their bytes (memcmp, a prefix first), list
/// members by index, and sets `*is_list`. Scalars are read in place; each table, full userdata,
/// function or thread value is left in a stack slot of its own (member.slot), so the caller drops
/// them with lua_settop when it is done with the table. Answers the count, ENCL_MEMBERS_REFUSED
/// (a key that is neither a string nor a positive integer, string and integer keys mixed, a list
/// with holes, no stack room) or ENCL_MEMBERS_NO_ROOM; both leave the stack as it was. Keys are
/// not checked for UTF-8 here. Raises only on out-of-memory while the allocator is armed.
int encl_members(lua_State *L, int table, encl_member *members, int capacity, int *is_list);

/// Runs a full collection with the allocator disarmed.
void encl_collect(lua_State *L);

/// A unique address used as `json.null` (a light userdata).
extern const char encl_json_null_marker;
static inline void encl_pushjsonnull(lua_State *L) { lua_pushlightuserdata(L, (void *)&encl_json_null_marker); }
static inline int encl_isjsonnullpointer(const void *p) { return p == (const void *)&encl_json_null_marker; }
static inline int encl_isjsonnull(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == (void *)&encl_json_null_marker;
}

#endif
