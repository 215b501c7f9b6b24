import Testing

@testable import EnchargeRules

/// `HandlerGlobalsLint`: which assignments inside per-record and per-request functions are
/// globals, read from the source alone.
@Suite struct HandlerGlobalsLintTests {
    /// The assignments found in `source`, as `LINE handler name`.
    func found(_ source: String) -> [String] {
        HandlerGlobalsLint.assignments(in: Array(source.utf8)).map { "\($0.line) \($0.handler) \($0.name)" }
    }

    @Test func theWarningReadsAsACompilerLine() {
        let found = HandlerGlobalsLint.assignments(
            in: Array("count = 0\nfunction on_record(r)\n  count = count + 1\nend\n".utf8))
        #expect(
            found.map { $0.warning(path: "rules.lua") } == [
                "rules.lua:3: warning: on_record assigns the global 'count'; globals persist across calls within one "
                    + "worker and are not shared between workers (`run` and `replay` map on several with --jobs, "
                    + "`serve` answers on several) — use a local, keep state outside the rule, or for `run` and "
                    + "`replay` pass --jobs 1"
            ])
    }

    @Test(
        arguments: [
            // Top-level assignments and functions outside the handlers are fine.
            ("count = 0\nlocal t = {}\nfunction helper() x = 1 end\nfunction on_record(r) end", []),
            // Locals, parameters, loop variables, upvalues, fields and table keys are not globals.
            (
                """
                local seen = {}
                function on_record(r, ctx)
                  local n, m <const> = 1, 2
                  n = n + 1
                  r = nil; ctx.x = 1; seen[r] = true
                  for i = 1, 2 do i = i + 1 end
                  for k, v in pairs(r) do k, v = v, k end
                  local t = { a = 1, ["b"] = 2 }
                  t.a, t[1] = 1, 2
                  f(x == 1)
                  if n >= 1 then local y; y = 1 else local z; z = 2 end
                end
                """, []
            ),
            // Plain, multiple and _G assignments; nested functions and named functions inside.
            (
                """
                function on_record(r)
                  total = (total or 0) + 1
                  r.y, last, r[1] = 1, 2, 3
                  _G.hidden = 1; _G["other"] = 2
                  pcall(function(p) p = 1; deep = 2 end)
                  local t = { f = function() inner = 1 end }
                  function nested() end
                  local function lf() lf2 = 1 end
                  if r.x then a1 = 1 elseif r.y then a2 = 1 else a3 = 1 end
                  repeat b1 = 1 until true
                  while false do b2 = 1 end
                end
                """,
                [
                    "2 on_record total", "3 on_record last", "4 on_record hidden", "4 on_record other",
                    "5 on_record deep",
                    "6 on_record inner", "7 on_record nested", "8 on_record lf2", "9 on_record a1", "9 on_record a2",
                    "9 on_record a3", "10 on_record b1", "11 on_record b2",
                ]
            ),
            // A local declared after the handler is still a global inside it; one in a closed block too.
            ("function on_record(r)\n  do local q = 1 end\n  q = 2\nend\nlocal later", ["3 on_record q"]),
            // on_webhook in both forms and every way of writing routes.
            (
                """
                on_webhook = function(req) hits = 1 end
                routes = {
                  ["POST /a"] = function(req) ra = 1 end,
                  ['GET /b'] = function(req) local x = { y = function() rb = 1 end } end,
                }
                routes["PUT /c"] = function(req)
                  rc = 1
                end
                """,
                ["1 on_webhook hits", "3 routes[\"POST /a\"] ra", "4 routes[\"GET /b\"] rb", "7 routes[\"PUT /c\"] rc"]
            ),
            // A local on_record or routes is not an entry point; strings and comments are not code.
            (
                """
                local function on_record(r) a = 1 end
                local routes = { ["POST /a"] = function() b = 1 end }
                function on_webhook(req)
                  local s = "c = 1" -- d = 1
                  --[[ e = 1 ]]
                end
                """, []
            ),
            // Helpers the top level names count where a handler calls them, also through another helper.
            (
                """
                local function bump(n) total = (total or 0) + n end
                function remember(r) last = r; bump(1) end
                reset = function() total = 0 end
                function unused() never = 1 end
                function on_record(r)
                  remember(r)
                end
                reset()
                """, ["1 bump (called from on_record) total", "2 remember (called from on_record) last"]
            ),
        ] as [(String, [String])])
    func reportsExactlyTheGlobalsAHandlerAssigns(source: String, expected: [String]) {
        #expect(found(source) == expected)
    }
}
