// libcurl for Swift: the system headers plus the few things Swift cannot call itself.
//
// Why each shim exists:
// - curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are C variadic functions, which Swift
//   cannot call. Each typed `ccurl_*` wrapper below passes exactly one argument type through, the
//   same approach FoundationNetworking takes over the same library.
// - CURL_GLOBAL_ALL is a macro built from other macros; the init shim names it once.
// - The response capture (first bytes of the body, the Retry-After header) runs as plain C write and
//   header callbacks into a buffer Swift owns, so no Swift closure or Unmanaged reference is needed
//   while libcurl drives a transfer.
#ifndef ENCHARGE_CCURL_H
#define ENCHARGE_CCURL_H

#include <curl/curl.h>
#include <stddef.h>

// MARK: - Typed wrappers for the variadic setters and getters

/// curl_easy_setopt with a `long` argument (CURLOPTTYPE_LONG options). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt with a C string (CURLOPTTYPE_STRINGPOINT; libcurl copies it). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt with an object pointer (CURLOPTTYPE_OBJECTPOINT / SLISTPOINT / CBPOINT). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt with a curl_off_t (CURLOPTTYPE_OFF_T options such as POSTFIELDSIZE_LARGE). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_getinfo for CURLINFO_LONG values (response code, ...). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

/// curl_easy_getinfo for CURLINFO_DOUBLE values (timings). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
  return curl_easy_getinfo(handle, info, value);
}

/// curl_easy_getinfo for CURLINFO_STRING values (effective URL, ...). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
  return curl_easy_getinfo(handle, info, value);
}

/// curl_easy_getinfo for CURLINFO_OFF_T values (sizes, microsecond timings). Exists because the C function is variadic.
static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
  return curl_easy_getinfo(handle, info, value);
}

/// curl_multi_setopt with a `long` argument (connection limits, multiplexing). Exists because the C function is variadic.
static inline CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
  return curl_multi_setopt(multi, option, value);
}

/// curl_global_init(CURL_GLOBAL_ALL). Exists because CURL_GLOBAL_ALL is a compound macro.
static inline CURLcode ccurl_global_init_all(void) { return curl_global_init(CURL_GLOBAL_ALL); }

/// The CURLcode of a finished transfer from a CURLMsg. Exists because `data` is an anonymous union.
static inline CURLcode ccurl_msg_result(const CURLMsg *message) { return message->data.result; }

// MARK: - Response capture

/// How many leading bytes of a response body are kept (enough for an error message).
#define CCURL_BODY_PREFIX 512
/// Longest Retry-After value kept (an HTTP-date is 29 bytes).
#define CCURL_RETRY_AFTER_MAX 64

/// What one transfer's callbacks captured. Owned by the Swift transfer slot that installed it; it
/// lives as long as the easy handle and is only touched by the thread that drives the multi handle.
typedef struct ccurl_response {
  size_t body_length;                        // bytes stored in `body` (<= CCURL_BODY_PREFIX)
  size_t body_total;                         // bytes received in all
  char body[CCURL_BODY_PREFIX];
  int has_retry_after;                       // 1 when the final response carried Retry-After
  char retry_after[CCURL_RETRY_AFTER_MAX];   // its value, trimmed, NUL-terminated
} ccurl_response;

/// Clears a capture buffer before a transfer starts.
void ccurl_response_reset(ccurl_response *response);

/// Installs the C write and header callbacks that fill `response` (CURLOPT_WRITEFUNCTION/DATA,
/// CURLOPT_HEADERFUNCTION/DATA). Exists so the callbacks stay in C: function pointers go through the
/// variadic setter and no Swift frame runs inside libcurl's transfer loop. Returns the first error.
CURLcode ccurl_easy_capture_response(CURL *handle, ccurl_response *response);

#endif
