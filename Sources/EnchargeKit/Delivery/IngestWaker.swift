import CCurl

/// Wakes a sender thread blocked in `IngestTransport.poll` from another thread.
struct IngestWaker: @unchecked Sendable {
    // Invariant: `multi` is the transport's CURLM handle. Callers use `wake()` only while holding the
    // engine lock and only while the engine says that sender is alive; the thread marks itself dead
    // under that lock before the transport (and so the handle) is freed. curl_multi_wakeup is the
    // one multi call libcurl allows from another thread.
    let multi: UnsafeMutableRawPointer

    func wake() { _ = curl_multi_wakeup(multi) }
}
