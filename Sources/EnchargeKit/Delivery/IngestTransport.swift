import CCurl
import SystemKit

/// Runs curl_global_init once per process, before the first handle exists (Swift initializes
/// globals lazily and exactly once).
private let curlGlobalInitResult: CURLcode = ccurl_global_init_all()

/// The libcurl side of the Ingest client: one multi handle and a fixed pool of reused easy handles
/// (so connections stay alive between requests), each POSTing one event body to the endpoint.
///
/// Redirects: a 307 or 308 to the endpoint's own origin (scheme, host and port) is followed here,
/// with the same method, body and headers, up to `maxRedirects` times. Any other redirect comes
/// back as `.redirect`: libcurl's own following is off because it would send the `X-Encharge-Token`
/// header to another host too.
///
/// Not Sendable: every method except `waker.wake()` must be called from the one sender thread that
/// owns it, which also frees it.
final class IngestTransport {
    /// One reusable easy handle with the buffers libcurl writes into while it runs.
    private struct Slot {
        // Owned by this transport; freed in deinit after the handle is cleaned up.
        let easy: UnsafeMutableRawPointer
        let response: UnsafeMutablePointer<ccurl_response>
        let errorBuffer: UnsafeMutablePointer<CChar>
        /// The body of the current request, which libcurl reads in place (`CURLOPT_POSTFIELDS`)
        /// until the transfer ends; grown when a longer body comes.
        var body: UnsafeMutableRawPointer
        var bodyCapacity: Int
        /// The handle is on the multi handle (a request of this slot is on the wire).
        var active = false
        var tag = 0
        var startedAt = 0.0
        /// Same-origin redirects followed for the current request; its URL is not the endpoint when > 0.
        var redirects = 0
    }

    /// Same-origin redirects followed for one request before it fails.
    static let maxRedirects = 5

    let capacity: Int
    private let multi: UnsafeMutableRawPointer
    private let headers: UnsafeMutablePointer<curl_slist>
    private var slots: [Slot] = []
    private var idle: [Int] = []
    /// Attempts that failed before libcurl took them (add_handle errors), returned by the next poll.
    private var pending: [IngestAttempt] = []
    private let redactor: SecretRedactor
    private let endpoint: String
    /// `scheme://host:port` of the endpoint; redirects elsewhere are never followed.
    private let endpointOrigin: String?

    var inFlight: Int { capacity - idle.count }
    var waker: IngestWaker { IngestWaker(multi: multi) }

    /// A transport with `capacity` easy handles (default: the configuration's `concurrency`).
    init(configuration: DeliveryConfiguration, capacity: Int? = nil) throws(DeliveryError) {
        func failure(_ what: String) -> DeliveryError {
            DeliveryError(kind: .configuration, message: "libcurl: \(what)")
        }
        guard curlGlobalInitResult == CURLE_OK else { throw failure("global initialisation failed") }
        redactor = SecretRedactor(secret: configuration.writeKey)
        let capacity = capacity ?? configuration.concurrency
        self.capacity = capacity
        endpoint = configuration.endpoint
        endpointOrigin = Self.origin(of: configuration.endpoint)

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in [
            "X-Encharge-Token: \(configuration.writeKey)", "Content-Type: application/json", "Accept: application/json",
            "Expect:",
        ] {
            guard let appended = curl_slist_append(list, header) else {
                curl_slist_free_all(list)
                throw failure("out of memory")
            }
            list = appended
        }
        headers = list!
        guard let multi = curl_multi_init() else {
            curl_slist_free_all(headers)
            throw failure("curl_multi_init failed")
        }
        self.multi = multi
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, capacity)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, capacity)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))

        // From here on deinit cleans up whatever was made, so a failing option can simply throw.
        for _ in 0..<capacity {
            guard let easy = curl_easy_init() else { throw failure("curl_easy_init failed") }
            let response = UnsafeMutablePointer<ccurl_response>.allocate(capacity: 1)
            response.initialize(to: ccurl_response())
            let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
            errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
            let body = UnsafeMutableRawPointer.allocate(byteCount: Self.initialBodyCapacity, alignment: 1)
            slots.append(
                Slot(
                    easy: easy, response: response, errorBuffer: errorBuffer, body: body,
                    bodyCapacity: Self.initialBodyCapacity))
            idle.append(slots.count - 1)
            try configure(easy, index: slots.count - 1, response: response, errorBuffer: errorBuffer, configuration)
        }
    }

    deinit {
        for slot in slots {
            if slot.active { curl_multi_remove_handle(multi, slot.easy) }
            curl_easy_cleanup(slot.easy)
            slot.body.deallocate()
            slot.response.deinitialize(count: 1)
            slot.response.deallocate()
            slot.errorBuffer.deallocate()
        }
        curl_multi_cleanup(multi)
        curl_slist_free_all(headers)
    }

    private func configure(
        _ easy: UnsafeMutableRawPointer, index: Int, response: UnsafeMutablePointer<ccurl_response>,
        errorBuffer: UnsafeMutablePointer<CChar>, _ configuration: DeliveryConfiguration
    ) throws(DeliveryError) {
        var firstError: CURLcode = CURLE_OK
        func check(_ code: CURLcode) {
            if firstError == CURLE_OK && code != CURLE_OK { firstError = code }
        }
        check(ccurl_easy_setopt_string(easy, CURLOPT_URL, configuration.endpoint))
        check(ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(ccurl_easy_setopt_long(easy, CURLOPT_POST, 1))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)))
        check(ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent))
        check(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
        check(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        check(ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        check(ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        if let caBundlePath = configuration.caBundlePath {
            check(ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, caBundlePath))
        }
        check(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout)))
        check(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.requestTimeout)))
        check(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        check(ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)))
        check(ccurl_easy_capture_response(easy, response))
        // The slot's index, read back when the transfer ends (no lookup from handle to slot).
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, UnsafeMutableRawPointer(bitPattern: index + 1)))
        if firstError != CURLE_OK {
            throw DeliveryError(
                kind: .configuration,
                message:
                    "libcurl rejected an option: \(redactor.redact(String(cString: curl_easy_strerror(firstError))))")
        }
    }

    /// Bytes of a slot's body buffer before a longer body grows it (most events fit).
    static let initialBodyCapacity = 2048

    private static func milliseconds(_ seconds: Double) -> Int {
        Int(min(max(seconds * 1000, 1), Double(Int32.max)).rounded(.up))
    }

    /// Starts POSTing `body`; its attempt comes back from a later `poll` with `tag`. Requires a free
    /// slot (`inFlight < capacity`).
    func start(tag: Int, body: [UInt8]) {
        precondition(!idle.isEmpty, "IngestTransport.start without a free slot")
        let index = idle.removeLast()
        slots[index].tag = tag
        slots[index].startedAt = SystemClock.monotonicSeconds()
        let slot = slots[index]
        ccurl_response_reset(slot.response)
        slot.errorBuffer[0] = 0
        var code = CURLE_OK
        if slot.redirects > 0 {
            slots[index].redirects = 0
            code = ccurl_easy_setopt_string(slot.easy, CURLOPT_URL, endpoint)
        }
        if code == CURLE_OK {
            code = ccurl_easy_setopt_off_t(slot.easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        }
        if code == CURLE_OK {
            // The slot keeps its own copy of the body for libcurl to read in place (POSTFIELDS), so
            // `body` need not outlive this call and libcurl allocates nothing for it per request.
            if body.count > slot.bodyCapacity {
                slot.body.deallocate()
                slots[index].bodyCapacity = max(body.count, 2 * slot.bodyCapacity)
                slots[index].body = UnsafeMutableRawPointer.allocate(
                    byteCount: slots[index].bodyCapacity, alignment: 1)
            }
            let buffer = slots[index].body
            body.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress { buffer.copyMemory(from: source, byteCount: bytes.count) }
            }
            code = ccurl_easy_setopt_pointer(slot.easy, CURLOPT_POSTFIELDS, buffer)
        }
        if code == CURLE_OK {
            let added = curl_multi_add_handle(multi, slot.easy)
            if added == CURLM_OK {
                slots[index].active = true
                return
            }
            code = CURLE_FAILED_INIT
            slot.errorBuffer[0] = 0
            pending.append(
                IngestAttempt(
                    tag: tag, elapsed: 0,
                    outcome: .failure(
                        code: code, message: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(added)))")))
        } else {
            pending.append(
                IngestAttempt(tag: tag, elapsed: 0, outcome: .failure(code: code, message: message(slot, code))))
        }
        idle.append(index)
    }

    /// Drives the transfers: appends finished attempts to `finished` at once if there are any, else
    /// waits up to `timeout` seconds (or until `waker.wake()`) for progress and appends what finished
    /// meanwhile. The caller reuses one array across polls.
    func poll(timeout: Double, into finished: inout [IngestAttempt]) {
        let before = finished.count
        finished.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
        var stillRunning: Int32 = 0
        _ = curl_multi_perform(multi, &stillRunning)
        collect(into: &finished)
        if finished.count == before && timeout > 0 {
            let milliseconds = Int32(min(max((timeout * 1000).rounded(.up), 0), 60_000))
            _ = curl_multi_poll(multi, nil, 0, milliseconds, nil)
            _ = curl_multi_perform(multi, &stillRunning)
            collect(into: &finished)
        }
    }

    /// Gives up on every request on the wire (and any failed start not yet reported), without
    /// waiting for the network: their connections are closed and each comes back as a failure.
    /// The server may still have accepted some of them.
    func abandonAll() -> [IngestAttempt] {
        var abandoned = pending
        pending.removeAll()
        let now = SystemClock.monotonicSeconds()
        for index in slots.indices where slots[index].active {
            curl_multi_remove_handle(multi, slots[index].easy)
            slots[index].active = false
            idle.append(index)
            abandoned.append(
                IngestAttempt(
                    tag: slots[index].tag, elapsed: now - slots[index].startedAt,
                    outcome: .abandoned))
        }
        return abandoned
    }

    private func collect(into finished: inout [IngestAttempt]) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let index = slotIndex(easy), slots[index].active
            else { continue }
            slots[index].active = false
            let code = ccurl_msg_result(message)
            // `message` is invalid once the handle is removed, so everything is read before that.
            let slot = slots[index]
            let elapsed = SystemClock.monotonicSeconds() - slot.startedAt
            let outcome: IngestAttempt.Outcome
            if code == CURLE_OK {
                var status = 0
                _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                if (300...399).contains(status), let location = redirectURL(easy) {
                    let sameOrigin = endpointOrigin != nil && Self.origin(of: location) == endpointOrigin
                    if status == 307 || status == 308, sameOrigin {
                        if slot.redirects < Self.maxRedirects {
                            curl_multi_remove_handle(multi, easy)
                            follow(index, to: location)
                            continue
                        }
                        outcome = .failure(
                            code: CURLE_TOO_MANY_REDIRECTS, message: "more than \(Self.maxRedirects) redirects")
                    } else {
                        outcome = .redirect(status: status, location: redactor.redact(location))
                    }
                } else if (200...299).contains(status) {
                    // Nobody reads a success's body, so it is neither decoded nor scanned for the key.
                    outcome = .response(status: status, retryAfter: nil, body: "")
                } else {
                    outcome = .response(status: status, retryAfter: retryAfter(slot), body: body(slot))
                }
            } else {
                outcome = .failure(code: code, message: self.message(slot, code))
            }
            curl_multi_remove_handle(multi, easy)
            idle.append(index)
            finished.append(IngestAttempt(tag: slot.tag, elapsed: elapsed, outcome: outcome))
        }
    }

    /// Sends the request of slot `index` (already removed from the multi handle) again to
    /// `location`, same method, body and headers; a failure to restart is reported by the next poll.
    private func follow(_ index: Int, to location: String) {
        slots[index].redirects += 1
        let slot = slots[index]
        ccurl_response_reset(slot.response)
        slot.errorBuffer[0] = 0
        var code = ccurl_easy_setopt_string(slot.easy, CURLOPT_URL, location)
        if code == CURLE_OK {
            let added = curl_multi_add_handle(multi, slot.easy)
            if added == CURLM_OK {
                slots[index].active = true
                return
            }
            code = CURLE_FAILED_INIT
        }
        idle.append(index)
        pending.append(
            IngestAttempt(
                tag: slot.tag, elapsed: SystemClock.monotonicSeconds() - slot.startedAt,
                outcome: .failure(code: code, message: "cannot follow the redirect: \(message(slot, code))")))
    }

    /// The slot of a handle, from the index `configure` stored in it (`CURLOPT_PRIVATE`).
    private func slotIndex(_ easy: UnsafeMutableRawPointer) -> Int? {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        guard ccurl_easy_getinfo_string(easy, CURLINFO_PRIVATE, &pointer) == CURLE_OK, let pointer else { return nil }
        let index = Int(bitPattern: pointer) - 1
        return slots.indices.contains(index) ? index : nil
    }

    /// The absolute URL a 3xx answer points to (libcurl resolves a relative `Location`), if it sent one.
    private func redirectURL(_ easy: UnsafeMutableRawPointer) -> String? {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        guard ccurl_easy_getinfo_string(easy, CURLINFO_REDIRECT_URL, &pointer) == CURLE_OK, let pointer else {
            return nil
        }
        let url = String(cString: pointer)
        return url.isEmpty ? nil : url
    }

    /// `scheme://host:port` of an absolute URL, lower-cased, with the scheme's default port filled
    /// in; nil when libcurl cannot parse it.
    static func origin(of url: String) -> String? {
        guard let handle = curl_url() else { return nil }
        defer { curl_url_cleanup(handle) }
        guard curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK else { return nil }
        func part(_ which: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>? = nil
            guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME), let host = part(CURLUPART_HOST),
            let port = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT))
        else { return nil }
        return "\(scheme.lowercased())://\(host.lowercased()):\(port)"
    }

    private func body(_ slot: Slot) -> String {
        let length = slot.response.pointee.body_length
        let text = withUnsafeBytes(of: &slot.response.pointee.body) { raw in
            String(decoding: raw.prefix(length), as: UTF8.self)
        }
        return redactor.redact(text)
    }

    private func retryAfter(_ slot: Slot) -> String? {
        guard slot.response.pointee.has_retry_after != 0 else { return nil }
        return withUnsafeBytes(of: &slot.response.pointee.retry_after) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// libcurl's detailed error text when it wrote one, else its generic text; redacted either way.
    private func message(_ slot: Slot, _ code: CURLcode) -> String {
        let generic = String(cString: curl_easy_strerror(code))
        let detail = String(cString: slot.errorBuffer)
        let text = detail.isEmpty || detail == generic ? generic : "\(generic) (\(detail))"
        return redactor.redact(text)
    }
}
