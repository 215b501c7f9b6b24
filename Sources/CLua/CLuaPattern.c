// Lua pattern matching (string.find, match, gmatch, gsub) with a step budget.
//
// Why this exists: the standard matcher runs a whole match inside one C call, where no count hook
// can fire, and a pattern such as ".-.-.-.-.-b" takes exponential time. This matcher follows the
// Lua 5.4 manual (§6.4.1 Patterns, §6.4 string.find/match/gmatch/gsub) and gives the same results
// and error messages, but every step of the backtracking search is counted, and every
// ENCL_PATTERN_SLICE steps the count is charged to the call's instruction budget and the deadline
// is checked (encl_charge), which raises the usual limit error at the rule's line.
#define _GNU_SOURCE
#include "CLua.h"
#include <ctype.h>
#include <string.h>

#define ENCL_PATTERN_SLICE 4096
#define ENCL_PATTERN_MAXDEPTH 200  // C recursion depth of one match (Lua's MAXCCALLS)
#define ENCL_PATTERN_MAXCAPTURES 32  // as Lua's LUA_MAXCAPTURES
#define ENCL_CAP_UNCLOSED (-1)
#define ENCL_CAP_POSITION (-2)
#define ESC '%'

typedef struct encl_matcher {
  const char *subject;      // start of the subject
  const char *subject_end;  // one past its last byte (the byte there is Lua's terminating NUL)
  const char *pattern_end;
  lua_State *L;
  int depth_left;
  int slice_left;           // steps before the next charge
  int captures;
  struct {
    const char *start;
    ptrdiff_t length;       // or ENCL_CAP_UNCLOSED / ENCL_CAP_POSITION
  } capture[ENCL_PATTERN_MAXCAPTURES];
} encl_matcher;

static const char *encl_match(encl_matcher *m, const char *s, const char *p);

static void encl_matcher_init(encl_matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
  m->L = L;
  m->subject = s;
  m->subject_end = s + ls;
  m->pattern_end = p + lp;
  m->slice_left = ENCL_PATTERN_SLICE;
}

static void encl_matcher_reset(encl_matcher *m) {
  m->captures = 0;
  m->depth_left = ENCL_PATTERN_MAXDEPTH;
}

static inline void encl_step(encl_matcher *m) {
  if (--m->slice_left == 0) {
    m->slice_left = ENCL_PATTERN_SLICE;
    encl_charge(m->L, ENCL_PATTERN_SLICE);
  }
}

// Charges the steps of the last partial slice, without a check (the next call checks).
static void encl_matcher_settle(encl_matcher *m) {
  encl_limits_of(m->L)->instructions += ENCL_PATTERN_SLICE - m->slice_left;
  m->slice_left = ENCL_PATTERN_SLICE;
}

// Where the single-character class starting at `p` ends.
static const char *encl_class_end(encl_matcher *m, const char *p) {
  char c = *p++;
  if (c == ESC) {
    if (p == m->pattern_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (*p == '^') p++;
    do {  // the first character of a set is never its closing ']'
      if (p == m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
      c = *p++;
      if (c == ESC && p < m->pattern_end) p++;
    } while (*p != ']');
    return p + 1;
  }
  return p;
}

// %a, %d, ... (upper case: the complement); any other letter matches itself.
static int encl_class_matches(int c, int cls) {
  int in;
  switch (tolower(cls)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = c == 0; break;  // deprecated in the manual, still accepted by Lua 5.4
    default: return cls == c;
  }
  if (isupper(cls)) in = !in;
  return in != 0;
}

// `[set]` from `p` (the '[') to `close` (its ']').
static int encl_set_matches(int c, const char *p, const char *close) {
  int wanted = 1;
  if (p[1] == '^') {
    wanted = 0;
    p++;
  }
  while (++p < close) {
    if (*p == ESC) {
      p++;
      if (encl_class_matches(c, (unsigned char)*p)) return wanted;
    } else if (p[1] == '-' && p + 2 < close) {
      if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return wanted;
      p += 2;
    } else if ((unsigned char)*p == c) {
      return wanted;
    }
  }
  return !wanted;
}

static int encl_single_matches(encl_matcher *m, const char *s, const char *p, const char *class_end) {
  if (s >= m->subject_end) return 0;
  int c = (unsigned char)*s;
  switch (*p) {
    case '.': return 1;
    case ESC: return encl_class_matches(c, (unsigned char)p[1]);
    case '[': return encl_set_matches(c, p, class_end - 1);
    default: return (unsigned char)*p == c;
  }
}

// %bxy
static const char *encl_match_balance(encl_matcher *m, const char *s, const char *p) {
  if (p >= m->pattern_end - 1) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
  if (s >= m->subject_end || *s != p[0]) return NULL;
  char open = p[0], close = p[1];
  int level = 1;
  while (++s < m->subject_end) {
    encl_step(m);
    if (*s == close) {
      if (--level == 0) return s + 1;
    } else if (*s == open) {
      level++;
    }
  }
  return NULL;
}

// Greedy repetition: take as many as possible, then give back one at a time.
static const char *encl_match_greedy(encl_matcher *m, const char *s, const char *p, const char *class_end) {
  ptrdiff_t count = 0;
  while (encl_single_matches(m, s + count, p, class_end)) {
    encl_step(m);
    count++;
  }
  for (; count >= 0; count--) {
    const char *end = encl_match(m, s + count, class_end + 1);
    if (end != NULL) return end;
  }
  return NULL;
}

// Lazy repetition: try the rest first, then take one more.
static const char *encl_match_lazy(encl_matcher *m, const char *s, const char *p, const char *class_end) {
  for (;;) {
    const char *end = encl_match(m, s, class_end + 1);
    if (end != NULL) return end;
    if (!encl_single_matches(m, s, p, class_end)) return NULL;
    s++;
  }
}

static const char *encl_open_capture(encl_matcher *m, const char *s, const char *p, ptrdiff_t kind) {
  if (m->captures >= ENCL_PATTERN_MAXCAPTURES) luaL_error(m->L, "too many captures");
  m->capture[m->captures].start = s;
  m->capture[m->captures].length = kind;
  m->captures++;
  const char *end = encl_match(m, s, p);
  if (end == NULL) m->captures--;
  return end;
}

static const char *encl_close_capture(encl_matcher *m, const char *s, const char *p) {
  int open = m->captures - 1;
  while (open >= 0 && m->capture[open].length != ENCL_CAP_UNCLOSED) open--;
  if (open < 0) luaL_error(m->L, "invalid pattern capture");
  m->capture[open].length = s - m->capture[open].start;
  const char *end = encl_match(m, s, p);
  if (end == NULL) m->capture[open].length = ENCL_CAP_UNCLOSED;
  return end;
}

// %1 ... %9 in a pattern: the text of an earlier, closed capture.
static const char *encl_match_backreference(encl_matcher *m, const char *s, int digit) {
  int index = digit - '1';
  if (index < 0 || index >= m->captures || m->capture[index].length == ENCL_CAP_UNCLOSED)
    luaL_error(m->L, "invalid capture index %%%d", index + 1);
  size_t length = (size_t)m->capture[index].length;
  if ((size_t)(m->subject_end - s) >= length && memcmp(m->capture[index].start, s, length) == 0) return s + length;
  return NULL;
}

// Matches pattern `p` (to its end) at `s`; returns the end of the match or NULL.
static const char *encl_match(encl_matcher *m, const char *s, const char *p) {
  if (m->depth_left-- == 0) luaL_error(m->L, "pattern too complex");
  for (;;) {
    encl_step(m);
    if (p == m->pattern_end) break;
    if (*p == '(') {
      s = p[1] == ')' ? encl_open_capture(m, s, p + 2, ENCL_CAP_POSITION) : encl_open_capture(m, s, p + 1, ENCL_CAP_UNCLOSED);
      break;
    }
    if (*p == ')') {
      s = encl_close_capture(m, s, p + 1);
      break;
    }
    if (*p == '$' && p + 1 == m->pattern_end) {
      if (s != m->subject_end) s = NULL;
      break;
    }
    if (*p == ESC && p[1] == 'b') {
      s = encl_match_balance(m, s, p + 2);
      if (s == NULL) break;
      p += 4;
      continue;
    }
    if (*p == ESC && p[1] == 'f') {
      p += 2;
      if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
      const char *set_end = encl_class_end(m, p);
      int before = s == m->subject ? 0 : (unsigned char)s[-1];
      int here = s < m->subject_end ? (unsigned char)*s : 0;
      if (!encl_set_matches(before, p, set_end - 1) && encl_set_matches(here, p, set_end - 1)) {
        p = set_end;
        continue;
      }
      s = NULL;
      break;
    }
    if (*p == ESC && p[1] >= '0' && p[1] <= '9') {
      s = encl_match_backreference(m, s, (unsigned char)p[1]);
      if (s == NULL) break;
      p += 2;
      continue;
    }
    // A single-character class, perhaps followed by a quantifier.
    const char *class_end = encl_class_end(m, p);
    char quantifier = class_end < m->pattern_end ? *class_end : '\0';
    if (!encl_single_matches(m, s, p, class_end)) {
      if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
        p = class_end + 1;
        continue;
      }
      s = NULL;
      break;
    }
    if (quantifier == '?') {
      const char *end = encl_match(m, s + 1, class_end + 1);
      if (end != NULL) {
        s = end;
        break;
      }
      p = class_end + 1;
      continue;
    }
    if (quantifier == '+') {
      s = encl_match_greedy(m, s + 1, p, class_end);
      break;
    }
    if (quantifier == '*') {
      s = encl_match_greedy(m, s, p, class_end);
      break;
    }
    if (quantifier == '-') {
      s = encl_match_lazy(m, s, p, class_end);
      break;
    }
    s++;
    p = class_end;
  }
  m->depth_left++;
  return s;
}

// Pushes capture `i` (or the whole match `s`..`e` when there are no captures and i is 0).
static void encl_push_capture(encl_matcher *m, int i, const char *s, const char *e) {
  if (i >= m->captures) {
    if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m->L, s, (size_t)(e - s));
    return;
  }
  ptrdiff_t length = m->capture[i].length;
  if (length == ENCL_CAP_UNCLOSED) luaL_error(m->L, "unfinished capture");
  if (length == ENCL_CAP_POSITION)
    lua_pushinteger(m->L, (lua_Integer)(m->capture[i].start - m->subject) + 1);
  else
    lua_pushlstring(m->L, m->capture[i].start, (size_t)length);
}

// Pushes every capture; with none, the whole match unless `s` is NULL (string.find). Returns how
// many values it pushed.
static int encl_push_captures(encl_matcher *m, const char *s, const char *e) {
  int count = (m->captures == 0 && s != NULL) ? 1 : m->captures;
  luaL_checkstack(m->L, count, "too many captures");
  for (int i = 0; i < count; i++) encl_push_capture(m, i, s, e);
  return count;
}

// A negative or zero position counts from the end, as string.find's `init` does.
static size_t encl_start_position(lua_Integer position, size_t length) {
  if (position > 0) return (size_t)position;
  if (position == 0) return 1;
  if (position < -(lua_Integer)length) return 1;
  return length + (size_t)position + 1;
}

static int encl_has_specials(const char *p, size_t lp) {
  for (size_t i = 0; i < lp; i++)
    if (strchr("^$*+?.([%-", p[i]) != NULL && p[i] != '\0') return 1;
  return 0;
}

static int encl_find_or_match(lua_State *L, int find) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t start = encl_start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (start > ls) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || !encl_has_specials(p, lp))) {
    // Plain search: glibc's memmem is linear, so no budget is needed.
    const char *found = lp == 0 ? s + start : memmem(s + start, ls - start, p, lp);
    if (found == NULL) {
      luaL_pushfail(L);
      return 1;
    }
    lua_pushinteger(L, (lua_Integer)(found - s) + 1);
    lua_pushinteger(L, (lua_Integer)(found - s + lp));
    return 2;
  }
  encl_matcher m;
  const char *at = s + start;
  int anchored = lp > 0 && *p == '^';
  if (anchored) {
    p++;
    lp--;
  }
  encl_matcher_init(&m, L, s, ls, p, lp);
  do {
    encl_matcher_reset(&m);
    const char *end = encl_match(&m, at, p);
    if (end != NULL) {
      encl_matcher_settle(&m);
      if (find) {
        lua_pushinteger(L, (lua_Integer)(at - s) + 1);
        lua_pushinteger(L, (lua_Integer)(end - s));
        return encl_push_captures(&m, NULL, NULL) + 2;
      }
      return encl_push_captures(&m, at, end);
    }
  } while (at++ < m.subject_end && !anchored);
  encl_matcher_settle(&m);
  luaL_pushfail(L);
  return 1;
}

static int encl_str_find(lua_State *L) { return encl_find_or_match(L, 1); }
static int encl_str_match(lua_State *L) { return encl_find_or_match(L, 0); }

// The state of a gmatch iterator, kept in a userdata (no metatable) upvalue.
typedef struct encl_gmatch_state {
  encl_matcher m;
  const char *next;        // where the next search starts
  const char *pattern;
  const char *last_end;    // end of the last match, so an empty match cannot repeat there
} encl_gmatch_state;

static int encl_gmatch_next(lua_State *L) {
  encl_gmatch_state *g = (encl_gmatch_state *)lua_touserdata(L, lua_upvalueindex(3));
  g->m.L = L;
  for (const char *at = g->next; at <= g->m.subject_end; at++) {
    encl_matcher_reset(&g->m);
    const char *end = encl_match(&g->m, at, g->pattern);
    if (end != NULL && end != g->last_end) {
      g->next = g->last_end = end;
      encl_matcher_settle(&g->m);
      return encl_push_captures(&g->m, at, end);
    }
  }
  encl_matcher_settle(&g->m);
  return 0;
}

static int encl_str_gmatch(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t start = encl_start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  lua_settop(L, 2);  // the closure keeps both strings alive
  encl_gmatch_state *g = (encl_gmatch_state *)lua_newuserdatauv(L, sizeof(encl_gmatch_state), 0);
  if (start > ls) start = ls + 1;
  encl_matcher_init(&g->m, L, s, ls, p, lp);
  g->next = s + start;
  g->pattern = p;
  g->last_end = NULL;
  lua_pushcclosure(L, encl_gmatch_next, 3);
  return 1;
}

// gsub with a string replacement: %0 is the match, %1-%9 captures, %% a percent sign.
static void encl_add_string_replacement(encl_matcher *m, luaL_Buffer *b, const char *s, const char *e) {
  lua_State *L = m->L;
  size_t length;
  const char *text = lua_tolstring(L, 3, &length);
  const char *escape;
  while ((escape = memchr(text, ESC, length)) != NULL) {
    luaL_addlstring(b, text, (size_t)(escape - text));
    escape++;
    if (*escape == ESC) {
      luaL_addchar(b, ESC);
    } else if (*escape == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else if (isdigit((unsigned char)*escape)) {
      encl_push_capture(m, *escape - '1', s, e);
      luaL_tolstring(L, -1, NULL);
      lua_remove(L, -2);
      luaL_addvalue(b);
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", ESC);
    }
    length -= (size_t)(escape + 1 - text);
    text = escape + 1;
  }
  luaL_addlstring(b, text, length);
}

// gsub with a table or function replacement; false or nil keeps the match. Returns 1 if replaced.
static int encl_add_value_replacement(encl_matcher *m, luaL_Buffer *b, const char *s, const char *e, int kind) {
  lua_State *L = m->L;
  if (kind == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    int count = encl_push_captures(m, s, e);
    lua_call(L, count, 1);
  } else {
    encl_push_capture(m, 0, s, e);
    lua_gettable(L, 3);
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1)) return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

static int encl_str_gsub(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  const char *last_end = NULL;
  int kind = lua_type(L, 3);
  lua_Integer max_replacements = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                   "string/function/table");
  int anchored = lp > 0 && *p == '^';
  if (anchored) {
    p++;
    lp--;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  encl_matcher m;
  encl_matcher_init(&m, L, s, ls, p, lp);
  lua_Integer count = 0;
  int changed = 0;
  const char *at = s;
  while (count < max_replacements) {
    encl_matcher_reset(&m);
    const char *end = encl_match(&m, at, p);
    if (end != NULL && end != last_end) {
      count++;
      encl_matcher_settle(&m);
      if (kind == LUA_TFUNCTION || kind == LUA_TTABLE) {
        changed = encl_add_value_replacement(&m, &b, at, end, kind) | changed;
      } else {
        encl_add_string_replacement(&m, &b, at, end);
        changed = 1;
      }
      at = last_end = end;
    } else if (at < m.subject_end) {
      encl_step(&m);
      luaL_addchar(&b, *at++);
    } else {
      break;
    }
    if (anchored) break;
  }
  encl_matcher_settle(&m);
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, at, (size_t)(m.subject_end - at));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, count);
  return 2;
}

void encl_open_patterns(lua_State *L, int index) {
  index = lua_absindex(L, index);
  lua_pushcfunction(L, encl_str_find);
  lua_setfield(L, index, "find");
  lua_pushcfunction(L, encl_str_match);
  lua_setfield(L, index, "match");
  lua_pushcfunction(L, encl_str_gmatch);
  lua_setfield(L, index, "gmatch");
  lua_pushcfunction(L, encl_str_gsub);
  lua_setfield(L, index, "gsub");
}
