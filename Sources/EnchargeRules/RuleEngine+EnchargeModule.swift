import EnchargeKit
import JSONKit
import LuaKit

/// The `encharge` table a rule sees: `identify`, `track`, `event`, `skip`, `iso8601`, `client_ip`,
/// `settings`.
extension RuleEngine {
    func installEnchargeModule() {
        // `identify`, `track` and `iso8601` run for every event: their closures hold the engine without
        // counting the reference and borrow it for the call (no retain and release per call). The
        // engine owns the state, the state owns the closures, and only the state's calls run them,
        // so the engine outlives every call.
        let engine = Unmanaged.passUnretained(self)
        state.defineModule(
            "encharge",
            functions: [
                ("identify", { state in try engine._withUnsafeGuaranteedRef { try $0.identify(state) } }),
                ("track", { state in try engine._withUnsafeGuaranteedRef { try $0.track(state) } }),
                ("event", { [unowned self] state in try self.event(state) }),
                (
                    "skip",
                    { [unowned self] state in
                        self.skipReason = state.string(at: 1) ?? "skipped"
                        self.traceStep(.skip(self.skipReason ?? "skipped"))
                        return 0
                    }
                ),
                ("iso8601", { state in try engine._withUnsafeGuaranteedRef { try $0.iso8601(state) } }),
                ("client_ip", { state in try RuleEngine.clientIP(state) }),
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
            throw LuaRaise(
                "\(function): more than \(options.maxEventsPerRecord) events for one record; emit fewer (or raise --max-events-per-record)"
            )
        }
    }

    private func identify(_ state: LuaState) throws -> Int32 {
        guard state.type(at: 1) == .table else {
            throw LuaRaise("identify: expected a user table like { email = ... }, got \(state.type(at: 1).name)")
        }
        try checkEventCount("identify")
        if let event = encodedIdentify(state) {
            pending.append(event)
            traceStep(.event(event))
            return 0
        }
        let user = try argument(state, 1, path: "user", function: "identify")
        var warnings: [EventWarning] = []
        do {
            pending.append(try Event.identify(user: user, warnings: &warnings))
            traceStep(.event(pending[pending.count - 1]))
            if !warnings.isEmpty { note(warnings) }
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
            throw LuaRaise(
                "track: the second argument must be a user table like { email = ... }, got \(state.type(at: 2).name)")
        }
        try checkEventCount("track")
        if let event = encodedTrack(state) {
            pending.append(event)
            traceStep(.event(event))
            return 0
        }
        let name = try argument(state, 1, path: "name", function: "track")
        let user = try argument(state, 2, path: "user", function: "track")
        let properties = state.isNoneOrNil(3) ? nil : try argument(state, 3, path: "properties", function: "track")
        var sourceIp: JSONValue? = nil
        if !state.isNoneOrNil(4) {
            guard state.type(at: 4) == .table else {
                throw LuaRaise(
                    "track: the fourth argument must be an options table like { sourceIp = ... }, got \(state.type(at: 4).name)"
                )
            }
            let options = try argument(state, 4, path: "options", function: "track")
            for key in options.objectValue?.keys ?? [] where key != "sourceIp" {
                throw LuaRaise("track: unknown option '\(key)' (the only option is sourceIp)")
            }
            sourceIp = options["sourceIp"]
        }
        var warnings: [EventWarning] = []
        do {
            pending.append(
                try Event.track(name: name, user: user, properties: properties, sourceIp: sourceIp, warnings: &warnings)
            )
            traceStep(.event(pending[pending.count - 1]))
            if !warnings.isEmpty { note(warnings) }
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
        var warnings: [EventWarning] = []
        do {
            pending.append(try Event(validating: value, warnings: &warnings))
            traceStep(.event(pending[pending.count - 1]))
            if !warnings.isEmpty { note(warnings) }
        } catch {
            throw LuaRaise("event: \(error.description)")
        }
        return 0
    }

    // MARK: - One pass
    //
    // The common case, a valid event that needs no warning, is written from the Lua tables straight
    // into its wire body (`LuaJSONEncoder`, with `EventUserFilter` for the user), with no JSONValue
    // tree. Anything else (an error, a warning, an options table) makes the pass give up, charging
    // nothing, and the event goes the way above: `toJSON`, then `Event`'s validating initializers,
    // which give every message. Both ways write the same bytes (tests compare them).

    /// `encharge.identify(user)` in one pass, or nil to take the slow way.
    func encodedIdentify(_ state: LuaState) -> Event? {
        encodedIdentify(state, encoder: &eventEncoder)
    }

    private func encodedIdentify(_ state: LuaState, encoder: inout LuaJSONEncoder) -> Event? {
        encoder.reset()
        do {
            encoder.writer.writeRaw("{\"name\":\"identify\",\"user\":")
            encoder.beginValue(maxBytes: RuleOptions.maxEventBytes)
            let (userId, email) = try encodeUser(at: 1, &encoder)
            encoder.writer.bytes.append(UInt8(ascii: "}"))
            return finishedEvent(encoder, userId: userId, email: email)
        } catch {
            encoder.abandon()
            return nil
        }
    }

    /// `encharge.track(name, user, properties?)` in one pass, or nil to take the slow way (also
    /// for any options table: `sourceIp` is rare).
    func encodedTrack(_ state: LuaState) -> Event? {
        guard state.isNoneOrNil(4) else { return nil }
        return encodedTrack(state, encoder: &eventEncoder)
    }

    private func encodedTrack(_ state: LuaState, encoder: inout LuaJSONEncoder) -> Event? {
        encoder.reset()
        do {
            encoder.writer.writeRaw("{\"name\":")
            encoder.beginValue(maxBytes: RuleOptions.maxEventBytes)
            try encoder.chargeValue()
            let name = try encoder.string(encoder.value(at: 1))
            if EventValidator.trimmingWhitespace(name).isEmpty { throw LuaJSONEncoderRefusal() }
            encoder.writer.writeString(utf8: name)
            encoder.writer.writeRaw(",\"user\":")
            encoder.beginValue(maxBytes: RuleOptions.maxEventBytes)
            let (userId, email) = try encodeUser(at: 2, &encoder)
            if !state.isNoneOrNil(3) && !encoder.value(at: 3).isNull {
                encoder.writer.writeRaw(",\"properties\":")
                encoder.beginValue(maxBytes: RuleOptions.maxEventBytes)
                var asIs = LuaJSONMembersAsIs()
                try encoder.encodeObject(at: 3, filter: &asIs)
            }
            encoder.writer.bytes.append(UInt8(ascii: "}"))
            return finishedEvent(encoder, userId: userId, email: email)
        } catch {
            encoder.abandon()
            return nil
        }
    }

    /// Writes the user table at `index`; answers where its identity literals landed.
    private func encodeUser(
        at index: Int32, _ encoder: inout LuaJSONEncoder
    ) throws(LuaJSONEncoderRefusal) -> (userId: Range<Int>?, email: Range<Int>?) {
        var user = EventUserFilter(scratch: tagScratch)
        tagScratch = []
        defer { tagScratch = user.joinedTags }
        try encoder.encodeObject(at: index, filter: &user)
        guard user.hasIdentity else { throw LuaJSONEncoderRefusal() }
        return (user.userId, user.email)
    }

    /// The event whose wire body the encoder holds, copied out at its size (the encoder keeps its
    /// buffer for the next event).
    private func finishedEvent(_ encoder: borrowing LuaJSONEncoder, userId: Range<Int>?, email: Range<Int>?) -> Event {
        let wire = encoder.writer.bytes.withUnsafeBufferPointer { Array($0) }
        return Event(checkedWire: wire, userId: userId, email: email)
    }

    /// Counts what validation normalized, with the rule line that emitted the event.
    private func note(_ warnings: [EventWarning]) {
        let line = state.position(level: 1).map { "\($0.source):\($0.line)" }
        for warning in warnings { runWarnings.note(warning, ruleLine: line, source: currentSource) }
    }

    /// `encharge.client_ip(req)`: the first valid address in `req.headers["x-forwarded-for"]`
    /// (the client as the nearest proxy was told), else `req.remote_ip` (the peer), else nil.
    /// Entries may carry a port (`203.0.113.7:5123`, `[2001:db8::1]:443`); invalid ones are
    /// passed over. The header is whatever the client or proxies wrote: trust it no more than them.
    static func clientIP(_ state: LuaState) throws -> Int32 {
        guard state.type(at: 1) == .table else {
            throw LuaRaise("client_ip: expected the request table (req), got \(state.type(at: 1).name)")
        }
        if state.rawGetField("headers", in: 1) == .table,
            state.rawGetField("x-forwarded-for", in: -1) == .string, let header = state.string(at: -1),
            let address = ClientAddress.firstValid(inForwardedFor: header)
        {
            state.push(address)
            return 1
        }
        state.top = 1
        if state.rawGetField("remote_ip", in: 1) == .string, let peer = state.string(at: -1),
            let address = ClientAddress.address(fromEntry: peer)
        {
            state.push(address)
            return 1
        }
        state.pushNil()
        return 1
    }

    /// `encharge.iso8601(x, opts?)`: epoch seconds, epoch milliseconds (>= 1e11) or a date string
    /// → ISO 8601 in UTC; nil stays nil so an absent field stays absent. `opts.format` reads the
    /// string `strptime`-style (`"%m/%d/%Y %H:%M"`); `opts.tz` is the zone of a date that states
    /// no offset (`"Europe/Berlin"`, `"+02:00"`), which is otherwise read as UTC.
    func iso8601(_ state: LuaState) throws -> Int32 {
        var format: String?
        var zone: ZoneInfo?
        switch state.type(at: 2) {
        case .nil, .none:
            break
        case .table:
            for key in state.stringKeys(ofTableAt: 2) where key != "format" && key != "tz" {
                throw LuaRaise("iso8601: unknown option '\(key)' (the options are format and tz)")
            }
            switch state.rawGetField("format", in: 2) {
            case .nil: break
            case .string: format = state.string(at: -1)
            case let other:
                throw LuaRaise("iso8601: format must be a string like \"%m/%d/%Y %H:%M\", got \(other.name)")
            }
            switch state.rawGetField("tz", in: 2) {
            case .nil: break
            case .string: zone = try self.zone(named: state.string(at: -1) ?? "")
            case let other:
                throw LuaRaise("iso8601: tz must be a time zone name like \"Europe/Berlin\", got \(other.name)")
            }
            state.top = 1
        case let other:
            throw LuaRaise(
                "iso8601: the second argument must be an options table like { format = ..., tz = ... }, got \(other.name)"
            )
        }
        switch state.type(at: 1) {
        case .nil, .none:
            state.pushNil()
            return 1
        case .number:
            let value = state.integer(at: 1).map(Double.init) ?? state.number(at: 1) ?? .nan
            guard let ms = EnchargeDate.epochMilliseconds(fromEpoch: value) else {
                throw LuaRaise("iso8601: \(value) is not a usable epoch time")
            }
            // Straight into Lua, without a `String`: the common call, once per record.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: EnchargeDate.formattedMaxBytes) { out in
                let count = EnchargeDate.format(epochMilliseconds: ms, alwaysWithMilliseconds: false, into: out)
                state.push(bytes: UnsafeRawBufferPointer(start: out.baseAddress, count: count))
            }
            return 1
        case .string:
            let text = state.string(at: 1) ?? ""
            do {
                let ms = try EnchargeDate.epochMilliseconds(parsing: text, format: format, zone: zone)
                state.push(EnchargeDate.format(epochMilliseconds: ms))
            } catch {
                throw LuaRaise("iso8601: \(error.description)")
            }
            return 1
        default:
            throw LuaRaise("iso8601: expected a number or a string, got \(state.type(at: 1).name)")
        }
    }

    /// A time zone, read from the tz database once per engine.
    private func zone(named name: String) throws -> ZoneInfo {
        if let zone = zones[name] { return zone }
        do {
            let zone = try ZoneInfo.named(name)
            zones[name] = zone
            return zone
        } catch {
            throw LuaRaise("iso8601: \(error.description)")
        }
    }
}
