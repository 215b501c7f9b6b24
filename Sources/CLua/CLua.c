#include "CLua.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char encl_json_null_marker = 0;
static const char encl_traceback_key = 0;

int64_t encl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The allocator: accounts every byte and, while armed, refuses growth past the limit, which Lua
// turns into a "not enough memory" error inside the protected call.
static void *encl_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  encl_limits *lim = (encl_limits *)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    lim->used -= old;
    return NULL;
  }
  if (lim->armed && nsize > old && lim->used - old + nsize > lim->limit) {
    lim->tripped = ENCL_TRIP_MEMORY;
    return NULL;
  }
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
  int trip = ENCL_TRIP_NONE;
  if (lim->instruction_limit > 0 && lim->instructions > lim->instruction_limit) trip = ENCL_TRIP_INSTRUCTIONS;
  else if (lim->deadline_ns > 0 && encl_now_ns() > lim->deadline_ns) trip = ENCL_TRIP_DEADLINE;
  if (trip == ENCL_TRIP_NONE) return;
  lim->tripped = trip;
  lim->armed = 0;  // the message below must be allocatable
  lua_getinfo(L, "Sl", ar);
  if (ar->currentline > 0)
    lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
  else
    lua_pushliteral(L, "");
  if (trip == ENCL_TRIP_INSTRUCTIONS)
    lua_pushfstring(L, "instruction limit of %I exceeded (an endless loop?)", (LUAI_UACINT)lim->instruction_limit);
  else
    lua_pushliteral(L, "time limit exceeded (an endless loop or a very slow rule?)");
  lua_concat(L, 2);
  lua_error(L);
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

// Message handler: turns any error value into a string and keeps a traceback aside.
static int encl_msgh(lua_State *L) {
  encl_limits *lim = encl_limits_of(L);
  lim->armed = 0;
  const char *msg = NULL;
  if (lua_type(L, 1) == LUA_TSTRING) {
    msg = lua_tostring(L, 1);
  } else if (lua_type(L, 1) == LUA_TNUMBER) {
    msg = lua_tostring(L, 1);
  } else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
    msg = lua_tostring(L, -1);
  } else {
    // error(value) with a non-string value: name where it was raised (level 2 is the Lua
    // function that called `error`).
    luaL_where(L, 2);
    msg = lua_pushfstring(L, "%s(error object is a %s value)", lua_tostring(L, -1), luaL_typename(L, 1));
  }
  luaL_traceback(L, L, NULL, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &encl_traceback_key);
  lua_pushstring(L, msg);
  return 1;
}

int encl_pcall(lua_State *L, int nargs, int nresults) {
  encl_limits *lim = encl_limits_of(L);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &encl_traceback_key);
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, encl_msgh);
  lua_rotate(L, base, 1);
  lim->tripped = ENCL_TRIP_NONE;
  lim->instructions = 0;
  lim->last_line = 0;
  lim->last_source[0] = 0;
  lim->armed = 1;
  int status = lua_pcall(L, nargs, nresults, base);
  lim->armed = 0;
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
    lim->tripped = ENCL_TRIP_MEMORY;
    return luaL_error(L, "not enough memory");
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

static int encl_sandbox_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
  return encl_finishpcall(L, status, 2);
}

void encl_open_sandboxed_pcall(lua_State *L) {
  lua_pushcfunction(L, encl_sandbox_pcall);
  lua_setglobal(L, "pcall");
  lua_pushcfunction(L, encl_sandbox_xpcall);
  lua_setglobal(L, "xpcall");
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
