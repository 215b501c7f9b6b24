// Table members for the one-pass JSON encoder (LuaJSONEncoder in LuaKit): one call per table
// instead of several Lua API calls per member from Swift. See encl_members in CLua.h.
#include "CLua.h"
#include <stdint.h>
#include <string.h>

void encl_member_at(lua_State *L, int idx, encl_member *member) {
  int type = lua_type(L, idx);
  member->type = type;
  member->is_integer = 0;
  member->slot = 0;
  switch (type) {
    case LUA_TBOOLEAN:
      member->value.integer = lua_toboolean(L, idx);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        member->is_integer = 1;
        member->value.integer = lua_tointegerx(L, idx, NULL);
      } else {
        member->value.number = lua_tonumberx(L, idx, NULL);
      }
      break;
    case LUA_TSTRING:
      member->value.string = lua_tolstring(L, idx, &member->string_length);
      break;
    case LUA_TLIGHTUSERDATA:
      member->value.pointer = lua_touserdata(L, idx);
      break;
    case LUA_TNIL:
    case LUA_TNONE:
      break;
    default:
      member->slot = lua_absindex(L, idx);
      break;
  }
}

// Insertion sorts: members come a handful per table, often nearly in order.
static int encl_key_precedes(const encl_member *a, const encl_member *b) {
  size_t common = a->key_length < b->key_length ? a->key_length : b->key_length;
  if (common > 0) {
    // Most keys differ in their first byte: no call for those.
    unsigned char a0 = (unsigned char)a->key[0], b0 = (unsigned char)b->key[0];
    if (a0 != b0) return a0 < b0;
    int order = memcmp(a->key, b->key, common);
    if (order != 0) return order < 0;
  }
  return a->key_length < b->key_length;
}

// A key's first eight bytes, big-endian and zero-padded: ordering these orders keys as
// encl_key_precedes does whenever they differ (a padding zero sorts a shorter key first, as its
// length does), so most comparisons read no key bytes. Ties fall back to encl_key_precedes.
static uint64_t encl_key_prefix(const encl_member *member) {
  uint64_t prefix = 0;
  size_t n = member->key_length < 8 ? member->key_length : 8;
  for (size_t i = 0; i < n; i++) prefix |= (uint64_t)(unsigned char)member->key[i] << (56 - 8 * i);
  return prefix;
}

// Tables up to this many members are sorted as (prefix, position) pairs and then permuted once,
// instead of moving whole members at each step of the insertion sort.
#define ENCL_SORT_BY_PREFIX_MAX 32

static void encl_sort_by_key(encl_member *members, int n) {
  if (n < 2) return;
  if (n > ENCL_SORT_BY_PREFIX_MAX) {
    for (int i = 1; i < n; i++) {
      encl_member member = members[i];
      int j = i;
      while (j > 0 && encl_key_precedes(&member, &members[j - 1])) {
        members[j] = members[j - 1];
        j--;
      }
      members[j] = member;
    }
    return;
  }
  struct {
    uint64_t prefix;
    int position;
  } order[ENCL_SORT_BY_PREFIX_MAX];
  int moved = 0;
  for (int i = 0; i < n; i++) {
    order[i].prefix = encl_key_prefix(&members[i]);
    order[i].position = i;
    int j = i;
    while (j > 0 && (order[i].prefix != order[j - 1].prefix
                         ? order[i].prefix < order[j - 1].prefix
                         : encl_key_precedes(&members[i], &members[order[j - 1].position]))) {
      j--;
    }
    if (j < i) {
      // Insert entry i at j.
      uint64_t prefix = order[i].prefix;
      memmove(&order[j + 1], &order[j], (size_t)(i - j) * sizeof(order[0]));
      order[j].prefix = prefix;
      order[j].position = i;
      moved = 1;
    }
  }
  if (!moved) return;
  encl_member sorted[ENCL_SORT_BY_PREFIX_MAX];
  for (int i = 0; i < n; i++) sorted[i] = members[order[i].position];
  memcpy(members, sorted, (size_t)n * sizeof(encl_member));
}

static void encl_sort_by_index(encl_member *members, int n) {
  for (int i = 1; i < n; i++) {
    encl_member member = members[i];
    int j = i;
    while (j > 0 && member.index < members[j - 1].index) {
      members[j] = members[j - 1];
      j--;
    }
    members[j] = member;
  }
}

// Whether the bytes are ASCII that a JSON string literal holds as is (see encl_member.key_plain).
static int encl_is_plain(const char *bytes, size_t length) {
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)bytes[i];
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return 0;
  }
  return 1;
}

static int encl_members_give_up(lua_State *L, int base, int answer) {
  lua_settop(L, base);
  return answer;
}

int encl_members(lua_State *L, int table, encl_member *members, int capacity, int *is_list) {
  int base = lua_gettop(L);
  if (!lua_checkstack(L, 8)) return ENCL_MEMBERS_REFUSED;

  // What the metatable says: a list marker and remembered nulls.
  int list_marked = 0;
  int nulls = 0;
  if (lua_getmetatable(L, table)) {
    int metatable = lua_gettop(L);
    lua_pushliteral(L, ENCL_JSON_MARKER_FIELD);
    if (lua_rawget(L, metatable) == LUA_TSTRING) {
      size_t length = 0;
      const char *marker = lua_tolstring(L, -1, &length);
      list_marked = length == 5 && memcmp(marker, "array", 5) == 0;
    }
    lua_settop(L, -2);
    lua_pushliteral(L, ENCL_JSON_NULLS_FIELD);
    if (lua_rawget(L, metatable) == LUA_TTABLE)
      nulls = lua_gettop(L);
    else
      lua_settop(L, -2);
  }

  int n = 0;
  int saw_key = 0, saw_index = 0, in_order = 1;
  lua_Integer max_index = 0;
  int room = 0;
  lua_pushnil(L);
  while (lua_next(L, table)) {
    // Key at -2, value at -1.
    if (n == capacity) return encl_members_give_up(L, base, ENCL_MEMBERS_NO_ROOM);
    encl_member *member = &members[n];
    int key_type = lua_type(L, -2);
    if (key_type == LUA_TSTRING) {
      if (saw_index) return encl_members_give_up(L, base, ENCL_MEMBERS_REFUSED);
      saw_key = 1;
      member->key = lua_tolstring(L, -2, &member->key_length);
      member->key_plain = encl_is_plain(member->key, member->key_length);
      member->index = 0;
    } else if (key_type == LUA_TNUMBER && lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointegerx(L, -2, NULL);
      if (saw_key || k < 1) return encl_members_give_up(L, base, ENCL_MEMBERS_REFUSED);
      saw_index = 1;
      if (k < max_index)
        in_order = 0;
      else
        max_index = k;
      member->key = NULL;
      member->key_length = 0;
      member->key_plain = 0;
      member->index = k;
    } else {
      return encl_members_give_up(L, base, ENCL_MEMBERS_REFUSED);
    }
    encl_member_at(L, -1, member);
    if (member->slot != 0) {
      // The value keeps a slot (where the key is now); the key goes on top for the next lua_next.
      member->slot = lua_gettop(L) - 1;
      lua_rotate(L, -2, 1);
      if (room == 0) {
        if (!lua_checkstack(L, 20)) return encl_members_give_up(L, base, ENCL_MEMBERS_REFUSED);
        room = 16;
      }
      room--;
    } else {
      lua_settop(L, -2);
    }
    n++;
  }

  if (saw_index || (list_marked && !saw_key)) {
    if (!in_order) {
      encl_sort_by_index(members, n);
      max_index = members[n - 1].index;
    }
    if (max_index != (lua_Integer)n) return encl_members_give_up(L, base, ENCL_MEMBERS_REFUSED);
    *is_list = 1;
    return n;
  }
  if (nulls) {
    // Each remembered null the rule did not set comes back.
    lua_pushnil(L);
    while (lua_next(L, nulls)) {
      lua_settop(L, -2);
      if (lua_type(L, -1) != LUA_TSTRING) continue;
      lua_pushvalue(L, -1);
      if (lua_rawget(L, table) == LUA_TNIL) {
        if (n == capacity) return encl_members_give_up(L, base, ENCL_MEMBERS_NO_ROOM);
        encl_member *member = &members[n++];
        member->key = lua_tolstring(L, -2, &member->key_length);
        member->key_plain = encl_is_plain(member->key, member->key_length);
        member->index = 0;
        member->type = ENCL_TREMEMBEREDNULL;
        member->is_integer = 0;
        member->slot = 0;
      }
      lua_settop(L, -2);
    }
  }
  encl_sort_by_key(members, n);
  *is_list = 0;
  return n;
}
