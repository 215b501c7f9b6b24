/// Which event may be sent next, so that per-person order holds while unrelated people go in parallel.
///
/// Every identity key hashes to one of a fixed number of lanes. The events of one `submit` form a
/// group, appended in one step to the FIFO of every lane its keys hash to. A group may run only
/// while it is at the head of all its lanes; it sends its events one at a time, in order (each
/// waiting for the previous one to be delivered or dead-lettered), then leaves all its lanes. Groups
/// enter lanes in one global order, so the group that entered first among any waiting set is at the
/// head of all its lanes: no deadlock. Memory is the lanes plus the queued groups, never a map of
/// every person seen. Two people that share a lane wait for each other, which costs parallelism
/// but never order.
///
/// A plain value: the engine keeps it under its lock.
struct DeliverySchedule {
    struct Group {
        var events: [Event]
        var source: String
        /// One opaque caller tag per event (`DeliveryEngine.submit(_:source:tags:)`), nil when untagged.
        var tags: [Int64]?
        /// Distinct lanes of the group's identity keys, ascending.
        var lanes: [Int]
        /// Index of the event being sent (or next to send).
        var next = 0
        /// Attempts made for `events[next]`.
        var attempts = 0
        /// The last retryable failure of `events[next]`, for its dead-letter entry.
        var lastFailure: DeliveryError?

        var current: Event { events[next] }
        /// The caller's tag of `events[index]`, if the group is tagged.
        func tag(at index: Int) -> Int64? { tags?[index] }

        /// Counts an attempt of the current event; returns the attempts so far.
        mutating func recordAttempt() -> Int {
            attempts += 1
            return attempts
        }

        /// Moves to the next event; false when the group has none left.
        mutating func moveToNextEvent() -> Bool {
            next += 1
            attempts = 0
            lastFailure = nil
            return next < events.count
        }
    }

    let laneCount: Int
    private var lanes: [Ring<Int>]
    /// Queued groups by id: `slots[id - firstSlotID]`, nil once the group left. Ids are handed out
    /// in order and groups leave roughly in order, so the slots before the oldest queued group are
    /// dropped as they empty: an array index instead of a hashed lookup for every event.
    private var slots: [Group?] = []
    /// Id of `slots[0]`.
    private var firstSlotID = 0
    /// Index of the first non-nil slot (the oldest queued group), `slots.count` when none is queued.
    private var oldestSlot = 0
    /// Queued groups (non-nil slots).
    private var groupCount = 0
    /// Finished groups, kept so that their events are freed by whoever calls `takeFinished()` (the
    /// submitting thread, which allocated them) instead of a sender thread.
    private var finished: [Group] = []
    /// Groups whose current event may be sent now, in the order they became ready.
    private var ready = Ring<Int>()
    /// Groups waiting out a backoff: (monotonic time it ends, group).
    private var backingOff: [(until: Double, group: Int)] = []
    private var nextGroupID = 0

    init(laneCount: Int) {
        precondition(laneCount > 0)
        self.laneCount = laneCount
        lanes = Array(repeating: Ring<Int>(), count: laneCount)
    }

    var isEmpty: Bool { groupCount == 0 }
    var hasReady: Bool { !ready.isEmpty }

    /// Lane of an identity key (`Event.lane(ofIdentityKey:laneCount:)`).
    func lane(of key: String) -> Int { Event.lane(ofIdentityKey: key, laneCount: laneCount) }

    /// Distinct lanes of the events' identity keys, ascending: what `add(_:source:tags:lanes:)` takes.
    /// A pure function of the events, so a caller computes it before taking the engine's lock.
    static func lanes(of events: [Event], laneCount: Int) -> [Int] {
        var lanes: [Int] = []
        lanes.reserveCapacity(events.count)
        for event in events {
            let lane = Event.lane(ofIdentityKey: event.identityKey, laneCount: laneCount)
            // Insertion into a short sorted array: a group has a handful of events.
            var index = lanes.count
            while index > 0 && lanes[index - 1] > lane { index -= 1 }
            if index == 0 || lanes[index - 1] != lane { lanes.insert(lane, at: index) }
        }
        return lanes
    }

    /// Queues the events of one submit as a group; returns true when it became ready at once.
    @discardableResult
    mutating func add(_ events: [Event], source: String, tags: [Int64]? = nil) -> Bool {
        add(events, source: source, tags: tags, lanes: Self.lanes(of: events, laneCount: laneCount))
    }

    /// `add(_:source:tags:)` with the group's lanes already computed by `lanes(of:laneCount:)`.
    @discardableResult
    mutating func add(_ events: [Event], source: String, tags: [Int64]?, lanes groupLanes: [Int]) -> Bool {
        precondition(!events.isEmpty)
        precondition(tags == nil || tags!.count == events.count, "one tag per event")
        let id = nextGroupID
        nextGroupID += 1
        slots.append(Group(events: events, source: source, tags: tags, lanes: groupLanes))
        groupCount += 1
        for lane in groupLanes { lanes[lane].append(id) }
        if isAtHeadOfAllLanes(id, groupLanes) {
            ready.append(id)
            return true
        }
        return false
    }

    private func isAtHeadOfAllLanes(_ id: Int, _ groupLanes: [Int]) -> Bool {
        for lane in groupLanes where lanes[lane].first != id { return false }
        return true
    }

    /// The queued group `id` (read in place).
    private subscript(id: Int) -> Group {
        _read { yield slots[id - firstSlotID]! }
        _modify { yield &slots[id - firstSlotID]! }
    }

    /// Takes group `id` out of its slot and drops the empty slots before the oldest queued group.
    private mutating func removeGroup(_ id: Int) -> Group? {
        let index = id - firstSlotID
        guard index >= 0, index < slots.count, let group = slots[index].take() else { return nil }
        groupCount -= 1
        while oldestSlot < slots.count && slots[oldestSlot] == nil { oldestSlot += 1 }
        if oldestSlot == slots.count {
            firstSlotID += slots.count
            slots.removeAll(keepingCapacity: slots.capacity <= 16_384)
            oldestSlot = 0
        } else if oldestSlot >= 64 && oldestSlot * 2 >= slots.count {
            slots.removeFirst(oldestSlot)
            firstSlotID += oldestSlot
            oldestSlot = 0
        }
        return group
    }

    /// Hands over the groups that finished since the last call, so the caller frees their events.
    mutating func takeFinished() -> [Group] {
        guard !finished.isEmpty else { return [] }
        var taken: [Group] = []
        taken.reserveCapacity(finished.count)
        swap(&taken, &finished)
        return taken
    }

    /// Takes the next ready group (its current event goes out now); the group then counts as running.
    mutating func takeReady() -> (group: Int, event: Event)? {
        guard let id = ready.popFirst() else { return nil }
        return (id, self[id].current)
    }

    /// Records an attempt of the group's current event; returns the attempt count so far.
    mutating func recordAttempt(_ id: Int) -> Int {
        self[id].recordAttempt()
    }

    func group(_ id: Int) -> Group { self[id] }

    /// The caller's tag of the group's current event, if the group is tagged (no copy of the group).
    func currentTag(_ id: Int) -> Int64? {
        let group = self[id]
        return group.tag(at: group.next)
    }

    /// The current event will be retried at `until` (monotonic seconds).
    mutating func backOff(_ id: Int, until: Double, after failure: DeliveryError) {
        self[id].lastFailure = failure
        backingOff.append((until, id))
    }

    /// Moves groups whose backoff has ended to the ready queue.
    mutating func endBackoffs(now: Double) {
        guard !backingOff.isEmpty else { return }
        var waiting: [(until: Double, group: Int)] = []
        for entry in backingOff {
            if entry.until <= now { ready.append(entry.group) } else { waiting.append(entry) }
        }
        backingOff = waiting
    }

    /// When the earliest backoff ends, if any group is backing off.
    var nextBackoffEnd: Double? { backingOff.lazy.map(\.until).min() }

    /// The group's current event is done (delivered or dead-lettered): moves to its next event, or
    /// removes the group from its lanes and makes every group that thereby reached the head of all
    /// its lanes ready.
    mutating func advance(_ id: Int) {
        if self[id].moveToNextEvent() {
            ready.append(id)
            return
        }
        let group = removeGroup(id)!
        defer { finished.append(group) }
        if group.lanes.count == 1 {
            // The common case (one person per submit): the next group in the lane is the one candidate.
            let lane = group.lanes[0]
            let removed = lanes[lane].popFirst()
            assert(removed == id, "a finished group must be at the head of its lanes")
            if let head = lanes[lane].first, isAtHeadOfAllLanes(head, self[head].lanes) { ready.append(head) }
            return
        }
        var candidates: [Int] = []
        for lane in group.lanes {
            let removed = lanes[lane].popFirst()
            assert(removed == id, "a finished group must be at the head of its lanes")
            if let head = lanes[lane].first, !candidates.contains(head) { candidates.append(head) }
        }
        // A candidate was behind this group in some lane, so it was not ready before; it is now if
        // it heads all of its lanes. Candidates are few (at most one per lane of this group).
        for head in candidates.sorted() where isAtHeadOfAllLanes(head, self[head].lanes) {
            ready.append(head)
        }
    }

    /// Empties the schedule once the engine stopped and nothing is on the wire: returns every group
    /// with its unsent events, in submit order (so dead letters keep per-person order).
    mutating func removeAll() -> [Group] {
        let removed = slots.compactMap { $0 }
        slots.removeAll()
        firstSlotID = nextGroupID
        oldestSlot = 0
        groupCount = 0
        for lane in lanes.indices { lanes[lane].removeAll() }
        ready.removeAll()
        backingOff.removeAll()
        return removed
    }

    /// Drops a running group whose attempt ended after the engine stopped, returning it with its
    /// unsent events. Nothing else becomes ready: a stopped engine starts nothing.
    mutating func remove(_ id: Int) -> Group? {
        guard let group = removeGroup(id) else { return nil }
        for lane in group.lanes {
            let removed = lanes[lane].popFirst()
            assert(removed == id, "a running group is at the head of its lanes")
        }
        return group
    }
}
