#include "CLua.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char encl_json_null_marker = 0;
static const char encl_traceback_key = 0;

int64_t encl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The allocator: accounts every byte and, while armed, refuses growth past the limit. Lua answers a
// refusal with an emergency collection and one retry; only when that fails too does it raise
// LUA_ERRMEM, which the protected calls below turn into ENCL_TRIP_MEMORY. (A refusal that the
// retry recovers from is no error, so it must not mark the call as tripped.)
static void *encl_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  encl_limits *lim = (encl_limits *)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    lim->used -= old;
    return NULL;
  }
  if (lim->armed && nsize > old && lim->used - old + nsize > lim->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p == NULL) return NULL;
  lim->used = lim->used - old + nsize;
  if (lim->used > lim->peak) lim->peak = lim->used;
  return p;
}

static int encl_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "encharge-lua: internal error: unprotected Lua error: %s\n", msg ? msg : "?");
  abort();
  return 0;
}

// Raises the error of an exceeded instruction budget or deadline; the "file:line: " prefix of the
// rule line that was running is on top of the stack.
static int encl_raise_budget(lua_State *L, encl_limits *lim, int trip) {
  lim->tripped = trip;
  lim->armed = 0;  // the message below must be allocatable
  if (trip == ENCL_TRIP_INSTRUCTIONS)
    lua_pushfstring(L, "instruction limit of %I exceeded (an endless loop?)", (LUAI_UACINT)lim->instruction_limit);
  else
    lua_pushliteral(L, "time limit exceeded (an endless loop or a very slow rule?)");
  lua_concat(L, 2);
  return lua_error(L);
}

static int encl_budget_trip(encl_limits *lim) {
  if (lim->instruction_limit > 0 && lim->instructions > lim->instruction_limit) return ENCL_TRIP_INSTRUCTIONS;
  if (lim->deadline_ns > 0 && encl_now_ns() > lim->deadline_ns) return ENCL_TRIP_DEADLINE;
  return ENCL_TRIP_NONE;
}

void encl_charge(lua_State *L, int64_t steps) {
  encl_limits *lim = encl_limits_of(L);
  lim->instructions += steps;
  int trip = encl_budget_trip(lim);
  if (trip == ENCL_TRIP_NONE) return;
  // The rule line: the nearest Lua function up the stack (the caller may be C, as in
  // pcall(string.find, ...)).
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      encl_raise_budget(L, lim, trip);
    }
  }
  lua_pushliteral(L, "");
  encl_raise_budget(L, lim, trip);
}

// The count hook: raises when the instruction budget or the deadline of the current call is spent.
static void encl_hook(lua_State *L, lua_Debug *ar) {
  encl_limits *lim = encl_limits_of(L);
  lim->instructions += ENCL_HOOK_STEP;
  // Remember where the rule was, so a memory error (which Lua reports without a position and
  // without calling the message handler) can still say roughly where it happened.
  if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
    lim->last_line = ar->currentline;
    memcpy(lim->last_source, ar->short_src, sizeof(lim->last_source));
    lim->last_source[sizeof(lim->last_source) - 1] = 0;
  }
  int trip = encl_budget_trip(lim);
  if (trip == ENCL_TRIP_NONE) return;
  if (ar->currentline > 0)
    lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
  else
    lua_pushliteral(L, "");
  encl_raise_budget(L, lim, trip);
}

lua_State *encl_newstate(encl_limits *limits) {
  lua_State *L = lua_newstate(encl_alloc, limits);
  if (L == NULL) return NULL;
  lua_atpanic(L, encl_panic);
  lua_sethook(L, encl_hook, LUA_MASKCOUNT, ENCL_HOOK_STEP);
  return L;
}

encl_limits *encl_limits_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return (encl_limits *)ud;
}

// Message handler: turns any error value into a string of at most ENCL_MESSAGE_MAX bytes (plus a
// `… (N bytes more)` marker when cut) and keeps a traceback aside. A `__tostring` runs under the
// memory cap, as any rule code does.
static int encl_msgh(lua_State *L) {
  encl_limits *lim = encl_limits_of(L);
  int armed = lim->armed;
  lim->armed = 0;
  const char *msg = NULL;
  size_t len = 0;
  if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
    msg = lua_tolstring(L, 1, &len);
  } else {
    lim->armed = armed;
    int converted = luaL_callmeta(L, 1, "__tostring");
    lim->armed = 0;
    if (converted && lua_type(L, -1) == LUA_TSTRING) {
      msg = lua_tolstring(L, -1, &len);
    } else {
      // error(value) with a non-string value: name where it was raised (level 2 is the Lua
      // function that called `error`).
      luaL_where(L, 2);
      msg = lua_pushfstring(L, "%s(error object is a %s value)", lua_tostring(L, -1), luaL_typename(L, 1));
      len = strlen(msg);
    }
  }
  luaL_traceback(L, L, NULL, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &encl_traceback_key);
  lim->holds_traceback = 1;
  if (len > ENCL_MESSAGE_MAX) {
    // Cut at a UTF-8 character boundary, with the marker the host's own caps use (they add up
    // the count when they cut the text again), so the user sees one count of what is left out.
    size_t kept = ENCL_MESSAGE_MAX;
    while (kept > 0 && ((unsigned char)msg[kept] & 0xC0) == 0x80) kept--;
    lua_pushlstring(L, msg, kept);
    lua_pushfstring(L, "\xE2\x80\xA6 (%I bytes more)", (LUAI_UACINT)(len - kept));
    lua_concat(L, 2);
  } else {
    lua_pushlstring(L, msg, len);
  }
  return 1;
}

int encl_pcall(lua_State *L, int nargs, int nresults, int64_t now) {
  encl_limits *lim = encl_limits_of(L);
  if (lim->holds_traceback) {
    // Only after a failure: most calls find nothing to clear, and skip a registry write.
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &encl_traceback_key);
    lim->holds_traceback = 0;
  }
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, encl_msgh);
  lua_rotate(L, base, 1);
  lim->tripped = ENCL_TRIP_NONE;
  lim->instructions = 0;
  lim->last_line = 0;
  lim->last_source[0] = 0;
  lim->armed = 1;
  int outermost = encl_call_begin(lim, now);
  int status = lua_pcall(L, nargs, nresults, base);
  if (outermost) encl_call_end(lim);
  lim->armed = 0;
  if (status == LUA_ERRMEM) lim->tripped = ENCL_TRIP_MEMORY;
  lua_rotate(L, base, -1);
  lua_settop(L, -2);
  return status;
}

void encl_pushtraceback(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &encl_traceback_key);
}

static int encl_trampoline(lua_State *L) {
  encl_limits *lim = encl_limits_of(L);
  encl_swift_function fn = (encl_swift_function)lua_touserdata(L, lua_upvalueindex(1));
  void *context = lua_touserdata(L, lua_upvalueindex(2));
  int index = (int)lua_tointeger(L, lua_upvalueindex(3));
  int armed = lim->armed;
  lim->armed = 0;
  lua_checkstack(L, 8);
  int n = fn(L, context, index);
  lim->armed = armed;
  if (n == -1) {
    luaL_where(L, 1);
    lua_rotate(L, -2, 1);
    lua_concat(L, 2);
    return lua_error(L);
  }
  if (n < 0) return lua_error(L);
  if (armed && lim->used > lim->limit) {
    // Garbage counts in `used` until it is collected; collect before calling it a failure, as
    // Lua's own emergency collection does for a refused allocation.
    lua_gc(L, LUA_GCCOLLECT);
    if (lim->used > lim->limit) {
      lim->tripped = ENCL_TRIP_MEMORY;
      return luaL_error(L, "not enough memory");
    }
  }
  return n;
}

void encl_pushswiftfunction(lua_State *L, encl_swift_function fn, void *context, int index) {
  lua_pushlightuserdata(L, (void *)fn);
  lua_pushlightuserdata(L, context);
  lua_pushinteger(L, index);
  lua_pushcclosure(L, encl_trampoline, 3);
}

// pcall/xpcall that cannot swallow an exceeded limit.
static int encl_finishpcall(lua_State *L, int status, int extra) {
  encl_limits *lim = encl_limits_of(L);
  if (status == LUA_ERRMEM) lim->tripped = ENCL_TRIP_MEMORY;
  if (status != LUA_OK && lim->tripped != ENCL_TRIP_NONE) return lua_error(L);
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - extra;
}

static int encl_sandbox_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  return encl_finishpcall(L, status, 0);
}

// xpcall(f, handler, ...). Lua runs a message handler at the point of the error, and with hooks
// off when the error was raised in a hook, so a handler that loops could never be stopped. Here
// the handler runs after the stack has unwound, as an ordinary call under the budget; it receives
// the error value and its first result is xpcall's second result (an error in the handler is
// returned in its place). Exceeded limits skip it.
static int encl_sandbox_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 1);  // f, handler, f, args...
  int status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    lua_replace(L, 2);  // f, true, results...
    return lua_gettop(L) - 1;
  }
  encl_limits *lim = encl_limits_of(L);
  if (status == LUA_ERRMEM) lim->tripped = ENCL_TRIP_MEMORY;
  if (lim->tripped != ENCL_TRIP_NONE) return lua_error(L);
  // f, handler, error → false, handler(error)
  lua_pushvalue(L, 2);
  lua_rotate(L, -2, 1);
  status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_ERRMEM) lim->tripped = ENCL_TRIP_MEMORY;
  if (status != LUA_OK && lim->tripped != ENCL_TRIP_NONE) return lua_error(L);
  lua_pushboolean(L, 0);
  lua_rotate(L, -2, 1);
  return 2;
}

// setmetatable that refuses a `__gc` field. Lua runs finalizers with hooks off, outside any
// budget, whenever the collector gets to them; a finalizer that loops would hang the host. Lua
// 5.4 marks an object for finalization only if `__gc` is present when the metatable is set, so
// checking here covers a placeholder (`__gc = true`) replaced by a function later.
static int encl_sandbox_setmetatable(lua_State *L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    int gc = lua_rawget(L, 2);
    lua_pop(L, 1);
    if (gc != LUA_TNIL)
      return luaL_error(L, "setmetatable: a __gc finalizer is not allowed in rules (finalizers run outside the "
                           "time limit); remove the __gc field");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

// string.rep with an empty string and separator copies nothing but still loops `n` times in one
// C call (`string.rep("", 1e15)`); answer it at once.
static int encl_sandbox_rep(lua_State *L) {
  size_t l = 0, lsep = 0;
  luaL_checklstring(L, 1, &l);
  luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (l + lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

void encl_open_sandboxed_pcall(lua_State *L) {
  lua_pushcfunction(L, encl_sandbox_pcall);
  lua_setglobal(L, "pcall");
  lua_pushcfunction(L, encl_sandbox_xpcall);
  lua_setglobal(L, "xpcall");
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, encl_sandbox_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
  lua_getglobal(L, "string");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, encl_sandbox_rep, 1);
    lua_setfield(L, -2, "rep");
    encl_open_patterns(L, lua_gettop(L));
  }
  lua_pop(L, 1);
}

// The watchdog's view of a call: `*call_started` holds the CLOCK_MONOTONIC start of the outermost
// protected call, 0 when idle, or ENCL_CALL_ABANDONED once a watchdog gave the call up. Only
// these atomics cross threads.
int encl_call_begin(encl_limits *lim, int64_t now) {
  if (lim->call_started == NULL) return 0;
  int64_t expected = 0;
  return __atomic_compare_exchange_n(lim->call_started, &expected, now, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE);
}

void encl_call_end(encl_limits *lim) {
  int64_t started = __atomic_load_n(lim->call_started, __ATOMIC_ACQUIRE);
  if (started != ENCL_CALL_ABANDONED &&
      __atomic_compare_exchange_n(lim->call_started, &started, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return;
  // A watchdog gave this call up and now owns what the thread was doing: it reports the record
  // and ends the process or replaces this thread. Never touch the state again.
  for (;;) pause();
}

int64_t encl_call_started(const int64_t *call_started) {
  return __atomic_load_n(call_started, __ATOMIC_ACQUIRE);
}

int encl_call_abandon(int64_t *call_started, int64_t started) {
  if (started <= 0) return 0;
  return __atomic_compare_exchange_n(call_started, &started, ENCL_CALL_ABANDONED, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE);
}

int encl_loadtext(lua_State *L, const char *buffer, size_t size, const char *chunkname) {
  return luaL_loadbufferx(L, buffer, size, chunkname, "t");
}

void encl_collect(lua_State *L) {
  encl_limits *lim = encl_limits_of(L);
  int armed = lim->armed;
  lim->armed = 0;
  lua_gc(L, LUA_GCCOLLECT);
  lim->armed = armed;
}

int encl_stuck_position(lua_State *L, char *buffer, size_t size) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      snprintf(buffer, size, "%s:%d", ar.short_src, ar.currentline);
      return 1;
    }
  }
  return 0;
}
