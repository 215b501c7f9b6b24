/// Reads a rule's source, without running it, for globals assigned inside the functions that run
/// once per record or request: `on_record`, `on_webhook` and the `routes` handlers, and functions
/// nested in them. Such state lives on in the Lua state of one worker (`serve` has several, and
/// each keeps its own; so do `run` and `replay` with --jobs), so `check` warns: `rules.lua:12: warning: on_record assigns the global
/// 'count'; ...`. Assignments at the top level of the file are fine.
///
/// A function the top level defines by name (a helper) counts for each handler that calls it,
/// directly or through other helpers: `bump (called from on_record) assigns the global 'total'`.
///
/// Scopes are tracked from `RuleSourceLint.tokens`: locals (of the block or an enclosing one, so
/// upvalues too), parameters and loop variables are not globals, and fields (`t.x = 1`) and table
/// keys (`{ x = 1 }`) are not assignments to a global. `_G.x = 1` and `_G["x"] = 1` are.
struct HandlerGlobalsLint {
    static let advice =
        "globals persist across calls within one worker and are not shared between workers (`run` and "
        + "`replay` map on several with --jobs, `serve` answers on several) — use a local, keep state "
        + "outside the rule, or for `run` and `replay` pass --jobs 1"

    /// The entry points called per record or request.
    static let entryPoints: Set<String> = ["on_record", "on_webhook"]

    /// One global assigned inside a handler.
    struct Assignment {
        var line: Int
        /// `on_record`, `on_webhook`, `routes["POST /x"]`.
        var handler: String
        var name: String

        /// `path:LINE: warning: on_record assigns the global 'count'; ...`.
        func warning(path: String) -> String {
            "\(path):\(line): warning: \(handler) assigns the global '\(name)'; \(HandlerGlobalsLint.advice)"
        }
    }

    /// Each global a handler assigns, in source order (once per line and name).
    static func assignments(in source: [UInt8]) -> [Assignment] {
        guard let tokens = RuleSourceLint.tokens(source) else { return [] }
        var scanner = HandlerGlobalsLint(tokens: tokens)
        scanner.scan()
        return scanner.found
    }

    /// A block and the names it declares.
    private struct Block {
        var locals: Set<String>
        /// A function body (else a `do`, `if`, loop or `repeat` block).
        var isFunction = false
        /// The handler this block is part of (`on_record`, `routes["POST /x"]`), if any.
        var handler: String?
        /// Else the function defined by name at the top level (a helper) it is part of, if any.
        var helper: String?
        /// The enclosing function's open brackets, restored at the function's `end`.
        var savedBrackets: [Bracket] = []
    }

    /// An open `(`, `[` or `{` of the current function; `routesTable` for `routes = { ... }`.
    private struct Bracket {
        var symbol: String
        var routesTable = false
    }

    private let tokens: [RuleSourceLint.Token]
    private var blocks = [Block(locals: [])]
    private var brackets: [Bracket] = []
    private var pendingLocals: Set<String> = []
    private(set) var found: [Assignment] = []

    private init(tokens: [RuleSourceLint.Token]) { self.tokens = tokens }

    private func text(_ k: Int) -> String { k >= 0 && k < tokens.count ? tokens[k].text : "" }
    private func isLocal(_ name: String) -> Bool { blocks.contains { $0.locals.contains(name) } }
    private var handler: String? { blocks.last(where: \.isFunction)?.handler }
    private var helper: String? { blocks.last(where: \.isFunction)?.helper }
    /// Globals each helper assigns, and the names handlers and helpers use (calls among them).
    private var helperAssignments: [String: [(line: Int, name: String)]] = [:]
    private var handlerUses: [(handler: String, names: Set<String>)] = []
    private var helperUses: [String: Set<String>] = [:]

    private mutating func report(_ line: Int, _ name: String) {
        if let handler {
            guard !found.contains(where: { $0.line == line && $0.name == name }) else { return }
            found.append(Assignment(line: line, handler: handler, name: name))
        } else if let helper {
            helperAssignments[helper, default: []].append((line, name))
        }
    }

    /// Notes that the running handler or helper uses `name` (perhaps calling a helper).
    private mutating func noteUse(_ name: String) {
        if let handler {
            if handlerUses.last?.handler != handler { handlerUses.append((handler, [])) }
            handlerUses[handlerUses.count - 1].names.insert(name)
        } else if let helper {
            helperUses[helper, default: []].insert(name)
        }
    }

    /// Adds what the helpers a handler calls (directly or through other helpers) assign:
    /// `bump (called from on_record) assigns the global 'total'`.
    private mutating func addHelperAssignments() {
        for (handler, names) in handlerUses {
            var reached: [String] = []
            var queue = names.filter { helperAssignments[$0] != nil || helperUses[$0] != nil }.sorted()
            while let helper = queue.popLast() {
                guard !reached.contains(helper) else { continue }
                reached.append(helper)
                queue += (helperUses[helper] ?? []).filter { helperAssignments[$0] != nil || helperUses[$0] != nil }
            }
            for helper in reached {
                for (line, name) in helperAssignments[helper] ?? []
                where !found.contains(where: { $0.line == line && $0.name == name }) {
                    found.append(Assignment(line: line, handler: "\(helper) (called from \(handler))", name: name))
                }
            }
        }
        found.sort { $0.line < $1.line }
    }

    private mutating func scan() {
        var k = 0
        while k < tokens.count {
            let token = tokens[k]
            switch (token.kind, token.text) {
            case (.keyword, "local"):
                var j = k + 1
                if text(j) != "function" {
                    // local a <const>, b = ...
                    while j < tokens.count, tokens[j].kind == .name {
                        blocks[blocks.count - 1].locals.insert(tokens[j].text)
                        j += 1
                        if text(j) == "<" { j += 3 }
                        guard text(j) == "," else { break }
                        j += 1
                    }
                }
            case (.keyword, "function"):
                k = enterFunction(at: k)
            case (.keyword, "for"):
                var j = k + 1
                while j < tokens.count, text(j) != "=" && text(j) != "in" {
                    if tokens[j].kind == .name { pendingLocals.insert(tokens[j].text) }
                    j += 1
                }
                k = j
            case (.keyword, "do"):
                blocks.append(Block(locals: pendingLocals))
                pendingLocals = []
            case (.keyword, "if"), (.keyword, "repeat"):
                blocks.append(Block(locals: []))
            case (.keyword, "else"), (.keyword, "elseif"):
                blocks[blocks.count - 1].locals = []
            case (.keyword, "end"), (.keyword, "until"):
                if blocks.count > 1 {
                    let block = blocks.removeLast()
                    if block.isFunction { brackets = block.savedBrackets }
                }
            case (.symbol, "("), (.symbol, "["):
                brackets.append(Bracket(symbol: token.text))
            case (.symbol, "{"):
                // routes = { ["POST /x"] = function(req) ... end }
                let routes =
                    brackets.isEmpty && text(k - 1) == "=" && text(k - 2) == "routes"
                    && ![".", ":", "local"].contains(text(k - 3)) && !isLocal("routes")
                brackets.append(Bracket(symbol: "{", routesTable: routes))
            case (.symbol, ")"), (.symbol, "]"), (.symbol, "}"):
                if !brackets.isEmpty { brackets.removeLast() }
            case (.name, let name):
                if handler != nil || helper != nil, ![".", ":"].contains(text(k - 1)) { noteUse(name) }
                guard handler != nil || helper != nil, brackets.isEmpty,
                    ![".", ":", "::", "goto", "local"].contains(text(k - 1))
                else { break }
                if name == "_G" && !isLocal(name) {
                    // _G.count = 1, _G["count"] = 1
                    if text(k + 1) == ".", tokens.indices.contains(k + 2), tokens[k + 2].kind == .name,
                        text(k + 3) == "="
                    {
                        report(token.line, tokens[k + 2].text)
                    } else if text(k + 1) == "[", let key = tokens.indices.contains(k + 2) ? tokens[k + 2].value : nil,
                        text(k + 3) == "]", text(k + 4) == "="
                    {
                        report(token.line, key)
                    }
                }
                if !isLocal(name), text(k + 1) == "=" || text(k + 1) == "," && assignsList(from: k + 1) {
                    report(token.line, name)
                }
            default:
                break
            }
            k += 1
        }
        addHelperAssignments()
    }

    /// At the `,` after the first target of `a, b.c, d[1] = ...`: whether the list ends in `=`.
    private func assignsList(from start: Int) -> Bool {
        var j = start
        while text(j) == "," {
            j += 1
            guard tokens.indices.contains(j), tokens[j].kind == .name else { return false }
            j += 1
            while true {
                if text(j) == ".", tokens.indices.contains(j + 1), tokens[j + 1].kind == .name {
                    j += 2
                } else if text(j) == "[" {
                    var depth = 0
                    repeat {
                        if text(j) == "[" { depth += 1 } else if text(j) == "]" { depth -= 1 }
                        j += 1
                    } while depth > 0 && j < tokens.count
                } else {
                    break
                }
            }
        }
        return text(j) == "="
    }

    /// At `function`: works out whether it starts a handler (or, inside one, assigns a global by
    /// name), opens its block with the parameters, and returns the index of the `)` closing them.
    private mutating func enterFunction(at k: Int) -> Int {
        var j = k + 1
        var chain: [String] = []
        var method = false
        while tokens.indices.contains(j), tokens[j].kind == .name {
            chain.append(tokens[j].text)
            j += 1
            guard text(j) == "." || text(j) == ":" else { break }
            method = text(j) == ":"
            j += 1
        }
        let isLocalFunction = text(k - 1) == "local"
        var newHandler = handler
        var newHelper = helper
        if chain.count == 1, isLocalFunction {
            blocks[blocks.count - 1].locals.insert(chain[0])
        } else if chain.count == 1, !isLocal(chain[0]) {
            // function count() ... end inside a handler assigns the global `count`.
            report(tokens[k + 1].line, chain[0])
            if Self.entryPoints.contains(chain[0]) { newHandler = newHandler ?? chain[0] }
        } else if chain.isEmpty {
            newHandler = newHandler ?? anonymousHandler(at: k)
        }
        // A function the top level names (`function f`, `local function f`, `f = function`) is a
        // helper: what it assigns counts for the handlers that call it.
        if newHandler == nil, newHelper == nil, blocks.count == 1 {
            if chain.count == 1 {
                newHelper = chain[0]
            } else if chain.isEmpty, brackets.isEmpty, text(k - 1) == "=", tokens.indices.contains(k - 2),
                tokens[k - 2].kind == .name, ![".", ":"].contains(text(k - 3))
            {
                newHelper = tokens[k - 2].text
            }
        }
        var parameters: Set<String> = method ? ["self"] : []
        var end = k
        if text(j) == "(" {
            j += 1
            while j < tokens.count, text(j) != ")" {
                if tokens[j].kind == .name { parameters.insert(tokens[j].text) }
                j += 1
            }
            end = j
        }
        blocks.append(
            Block(locals: parameters, isFunction: true, handler: newHandler, helper: newHelper, savedBrackets: brackets)
        )
        brackets = []
        return end
    }

    /// The handler an anonymous function at `k` is: `on_record = function`, `routes["POST /x"] =
    /// function`, or an entry of `routes = { ... }`; nil for any other.
    private func anonymousHandler(at k: Int) -> String? {
        guard text(k - 1) == "=" else { return nil }
        let key = text(k - 2) == "]" && text(k - 4) == "[" ? tokens[k - 3].value : nil
        if brackets.isEmpty {
            let name = text(k - 2)
            if Self.entryPoints.contains(name), ![".", ":", "local"].contains(text(k - 3)), !isLocal(name) {
                return name
            }
            if let key, text(k - 5) == "routes", ![".", ":"].contains(text(k - 6)), !isLocal("routes") {
                return "routes[\"\(key)\"]"
            }
            return nil
        }
        guard brackets.count == 1, brackets[0].routesTable else { return nil }
        return key.map { "routes[\"\($0)\"]" } ?? "a routes handler"
    }
}
