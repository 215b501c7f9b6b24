import EnchargeKit
import JSONKit
import LuaKit

/// The `encharge` table a rule sees: `identify`, `track`, `event`, `skip`, `iso8601`, `settings`.
extension RuleEngine {
    func installEnchargeModule() {
        state.defineModule("encharge", functions: [
            ("identify", { [unowned self] state in try self.identify(state) }),
            ("track", { [unowned self] state in try self.track(state) }),
            ("event", { [unowned self] state in try self.event(state) }),
            ("skip", { [unowned self] state in
                self.skipReason = state.string(at: 1) ?? "skipped"
                return 0
            }),
            ("iso8601", { state in try RuleEngine.iso8601(state) }),
        ])
        state.getGlobal("encharge")
        state.push(json: .object(options.settings))
        state.rawSetField("settings", in: -2)
        state.pop()
    }

    private func argument(_ state: LuaState, _ index: Int32, path: String, function: String) throws -> JSONValue {
        do {
            return try state.toJSON(at: index, path: path, maxBytes: RuleOptions.maxEventBytes)
        } catch {
            throw LuaRaise("\(function): \(error.description)")
        }
    }

    /// Refuses an event past `--max-events-per-record` before converting anything.
    private func checkEventCount(_ function: String) throws {
        guard pending.count < options.maxEventsPerRecord else {
            throw LuaRaise("\(function): more than \(options.maxEventsPerRecord) events for one record; emit fewer (or raise --max-events-per-record)")
        }
    }

    private func identify(_ state: LuaState) throws -> Int32 {
        guard state.type(at: 1) == .table else {
            throw LuaRaise("identify: expected a user table like { email = ... }, got \(state.type(at: 1).name)")
        }
        try checkEventCount("identify")
        let user = try argument(state, 1, path: "user", function: "identify")
        do {
            pending.append(try Event.identify(user: user))
        } catch {
            throw LuaRaise("identify: \(error.description)")
        }
        return 0
    }

    private func track(_ state: LuaState) throws -> Int32 {
        guard state.type(at: 1) == .string else {
            throw LuaRaise("track: the first argument must be the event name (a string), got \(state.type(at: 1).name)")
        }
        guard state.type(at: 2) == .table else {
            throw LuaRaise("track: the second argument must be a user table like { email = ... }, got \(state.type(at: 2).name)")
        }
        try checkEventCount("track")
        let name = try argument(state, 1, path: "name", function: "track")
        let user = try argument(state, 2, path: "user", function: "track")
        let properties = state.isNoneOrNil(3) ? nil : try argument(state, 3, path: "properties", function: "track")
        var sourceIp: JSONValue? = nil
        if !state.isNoneOrNil(4) {
            guard state.type(at: 4) == .table else {
                throw LuaRaise("track: the fourth argument must be an options table like { sourceIp = ... }, got \(state.type(at: 4).name)")
            }
            let options = try argument(state, 4, path: "options", function: "track")
            for key in options.objectValue?.keys ?? [] where key != "sourceIp" {
                throw LuaRaise("track: unknown option '\(key)' (the only option is sourceIp)")
            }
            sourceIp = options["sourceIp"]
        }
        do {
            pending.append(try Event.track(name: name, user: user, properties: properties, sourceIp: sourceIp))
        } catch {
            throw LuaRaise("track: \(error.description)")
        }
        return 0
    }

    private func event(_ state: LuaState) throws -> Int32 {
        guard state.type(at: 1) == .table else {
            throw LuaRaise("event: expected a table like { name = ..., user = ... }, got \(state.type(at: 1).name)")
        }
        try checkEventCount("event")
        let value = try argument(state, 1, path: "", function: "event")
        do {
            pending.append(try Event(validating: value))
        } catch {
            throw LuaRaise("event: \(error.description)")
        }
        return 0
    }

    /// `encharge.iso8601(x)`: epoch seconds, epoch milliseconds (>= 1e11) or a date string → ISO 8601
    /// in UTC; nil stays nil so an absent field stays absent.
    static func iso8601(_ state: LuaState) throws -> Int32 {
        switch state.type(at: 1) {
        case .nil, .none:
            state.pushNil()
            return 1
        case .number:
            let value = state.integer(at: 1).map(Double.init) ?? state.number(at: 1) ?? .nan
            guard let ms = EnchargeDate.epochMilliseconds(fromEpoch: value) else {
                throw LuaRaise("iso8601: \(value) is not a usable epoch time")
            }
            state.push(EnchargeDate.format(epochMilliseconds: ms))
            return 1
        case .string:
            let text = state.string(at: 1) ?? ""
            guard let ms = EnchargeDate.epochMilliseconds(parsing: text) else {
                throw LuaRaise("iso8601: cannot read '\(text.prefix(60))' as a date (give epoch seconds, epoch milliseconds or an ISO 8601 string like 2020-03-06T14:24:03Z)")
            }
            state.push(EnchargeDate.format(epochMilliseconds: ms))
            return 1
        default:
            throw LuaRaise("iso8601: expected a number or a string, got \(state.type(at: 1).name)")
        }
    }
}
