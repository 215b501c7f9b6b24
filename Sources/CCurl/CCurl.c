#include "CCurl.h"

#include <string.h>
#include <strings.h>

void ccurl_response_reset(ccurl_response *response) {
  response->body_length = 0;
  response->body_total = 0;
  response->has_retry_after = 0;
  response->retry_after[0] = '\0';
}

// Keeps the first CCURL_BODY_PREFIX bytes and counts the rest; never fails the transfer.
static size_t ccurl_write_body(char *data, size_t size, size_t count, void *context) {
  ccurl_response *response = context;
  size_t length = size * count;
  size_t room = CCURL_BODY_PREFIX - response->body_length;
  size_t kept = length < room ? length : room;
  if (kept > 0) {
    memcpy(response->body + response->body_length, data, kept);
    response->body_length += kept;
  }
  response->body_total += length;
  return length;
}

static int ccurl_is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Called once per header line. A status line starts a new header block (after a 100 Continue or a
// redirect), so it forgets what an earlier block said; only the final response's Retry-After counts.
static size_t ccurl_read_header(char *data, size_t size, size_t count, void *context) {
  ccurl_response *response = context;
  size_t length = size * count;
  static const char status_prefix[] = "HTTP/";
  static const char name[] = "retry-after:";
  const size_t name_length = sizeof(name) - 1;
  if (length >= sizeof(status_prefix) - 1 && memcmp(data, status_prefix, sizeof(status_prefix) - 1) == 0) {
    response->has_retry_after = 0;
    response->retry_after[0] = '\0';
    return length;
  }
  if (length > name_length && strncasecmp(data, name, name_length) == 0) {
    size_t start = name_length;
    size_t end = length;
    while (start < end && ccurl_is_space(data[start])) start++;
    while (end > start && ccurl_is_space(data[end - 1])) end--;
    size_t value_length = end - start;
    if (value_length >= CCURL_RETRY_AFTER_MAX) value_length = CCURL_RETRY_AFTER_MAX - 1;
    memcpy(response->retry_after, data + start, value_length);
    response->retry_after[value_length] = '\0';
    response->has_retry_after = 1;
  }
  return length;
}

CURLcode ccurl_easy_capture_response(CURL *handle, ccurl_response *response) {
  CURLcode code;
  if ((code = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, ccurl_write_body)) != CURLE_OK) return code;
  if ((code = curl_easy_setopt(handle, CURLOPT_WRITEDATA, (void *)response)) != CURLE_OK) return code;
  if ((code = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, ccurl_read_header)) != CURLE_OK) return code;
  return curl_easy_setopt(handle, CURLOPT_HEADERDATA, (void *)response);
}
