/*
 * curl_multi_post: the libcurl limit for scripts/bench's delivery stage.
 *
 * POSTs every line of EVENTS (one JSON event per line, as `encharge-lua run --dry-run` prints them)
 * to URL through libcurl's multi interface, keeping IN_FLIGHT transfers running on a fixed pool of
 * reused easy handles (so connections stay alive), with the headers encharge-lua's IngestTransport
 * sends. Bodies are passed in place (CURLOPT_POSTFIELDS, no copy). Responses are discarded.
 *
 *   curl_multi_post URL EVENTS [IN_FLIGHT]     (IN_FLIGHT default 16)
 *
 * Prints one line: "<events> events, <2xx> 2xx, <seconds> s, <rate> events/s". The clock starts
 * after the file is read. Exit 0 when every event got a 2xx answer, 1 otherwise, 2 on usage or
 * setup errors.
 *
 * Build: cc -O2 -Wall -Wextra -o curl_multi_post curl_multi_post.c -lcurl
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct body {
    const char *bytes;
    size_t length;
};

static size_t discard(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads PATH whole into *text and splits it into lines (empty lines skipped). Returns 0 on success. */
static int read_events(const char *path, char **text, struct body **bodies, size_t *count) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "curl_multi_post: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t capacity = 1 << 20, length = 0;
    char *buffer = malloc(capacity);
    if (!buffer) {
        fclose(file);
        fprintf(stderr, "curl_multi_post: out of memory\n");
        return -1;
    }
    size_t got;
    while ((got = fread(buffer + length, 1, capacity - length, file)) > 0) {
        length += got;
        if (length == capacity) {
            char *grown = realloc(buffer, capacity * 2);
            if (!grown) {
                free(buffer);
                fclose(file);
                fprintf(stderr, "curl_multi_post: out of memory\n");
                return -1;
            }
            buffer = grown;
            capacity *= 2;
        }
    }
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        free(buffer);
        fprintf(stderr, "curl_multi_post: cannot read %s\n", path);
        return -1;
    }
    size_t lines = 0;
    for (size_t i = 0; i < length; i++) lines += buffer[i] == '\n';
    struct body *list = malloc((lines + 1) * sizeof *list);
    if (!list) {
        free(buffer);
        fprintf(stderr, "curl_multi_post: out of memory\n");
        return -1;
    }
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || buffer[i] == '\n') {
            if (i > start) list[n++] = (struct body){buffer + start, i - start};
            start = i + 1;
        }
    }
    *text = buffer;
    *bodies = list;
    *count = n;
    return 0;
}

/* Sets the options every request shares, as IngestTransport does. Returns the first error. */
static CURLcode configure(CURL *easy, const char *url, struct curl_slist *headers, char *error_buffer) {
    CURLcode code = CURLE_OK;
#define SET(option, value) \
    if (code == CURLE_OK) code = curl_easy_setopt(easy, option, value)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_USERAGENT, "curl_multi_post (encharge-lua bench)");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_PIPEWAIT, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SET(CURLOPT_TIMEOUT_MS, 30000L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_ERRORBUFFER, error_buffer);
#undef SET
    return code;
}

/* Points EASY at BODY (in place: the body outlives the transfer) and hands it to MULTI. */
static int start(CURLM *multi, CURL *easy, const struct body *body, char *error_buffer) {
    error_buffer[0] = 0;
    CURLcode code = curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->length);
    if (code == CURLE_OK) code = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->bytes);
    if (code != CURLE_OK) {
        fprintf(stderr, "curl_multi_post: curl_easy_setopt: %s\n", curl_easy_strerror(code));
        return -1;
    }
    CURLMcode added = curl_multi_add_handle(multi, easy);
    if (added != CURLM_OK) {
        fprintf(stderr, "curl_multi_post: curl_multi_add_handle: %s\n", curl_multi_strerror(added));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: curl_multi_post URL EVENTS [IN_FLIGHT]\n");
        return 2;
    }
    const char *url = argv[1];
    long in_flight = 16;
    if (argc == 4) {
        char *end;
        errno = 0;
        in_flight = strtol(argv[3], &end, 10);
        if (errno || *end || in_flight < 1 || in_flight > 4096) {
            fprintf(stderr, "curl_multi_post: IN_FLIGHT must be a number from 1 to 4096, got '%s'\n", argv[3]);
            return 2;
        }
    }
    char *text;
    struct body *bodies;
    size_t count;
    if (read_events(argv[2], &text, &bodies, &count) != 0) return 2;

    int status = 2;
    CURLM *multi = NULL;
    CURL **easies = NULL;
    char (*errors)[CURL_ERROR_SIZE] = NULL;
    struct curl_slist *headers = NULL;
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "curl_multi_post: curl_global_init failed\n");
        free(bodies);
        free(text);
        return 2;
    }
    static const char *const header_lines[] = {
        "X-Encharge-Token: bench", "Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof header_lines / sizeof *header_lines; i++) {
        struct curl_slist *appended = curl_slist_append(headers, header_lines[i]);
        if (!appended) {
            fprintf(stderr, "curl_multi_post: out of memory\n");
            goto done;
        }
        headers = appended;
    }
    if ((size_t)in_flight > count && count > 0) in_flight = (long)count;
    easies = calloc((size_t)in_flight, sizeof *easies);
    errors = calloc((size_t)in_flight, sizeof *errors);
    multi = curl_multi_init();
    if (!easies || !errors || !multi) {
        fprintf(stderr, "curl_multi_post: out of memory (or curl_multi_init failed)\n");
        goto done;
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, in_flight);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, in_flight);
    for (long i = 0; i < in_flight; i++) {
        easies[i] = curl_easy_init();
        CURLcode code = easies[i] ? configure(easies[i], url, headers, errors[i]) : CURLE_OUT_OF_MEMORY;
        if (code == CURLE_OK) code = curl_easy_setopt(easies[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
        if (code != CURLE_OK) {
            fprintf(stderr, "curl_multi_post: setting up a handle: %s\n", curl_easy_strerror(code));
            goto done;
        }
    }

    size_t next = 0, finished = 0, ok = 0, failed = 0;
    double started = now_seconds();
    for (long i = 0; i < in_flight && next < count; i++, next++)
        if (start(multi, easies[i], &bodies[next], errors[i]) != 0) goto done;
    while (finished < count) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            fprintf(stderr, "curl_multi_post: curl_multi_perform: %s\n", curl_multi_strerror(mc));
            goto done;
        }
        CURLMsg *message;
        int queued;
        int progressed = 0;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            CURLcode result = message->data.result;
            char *private = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private);
            long slot = (long)(intptr_t)private;
            long response = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response);
            if (result == CURLE_OK && response >= 200 && response < 300) {
                ok++;
            } else if (failed++ < 5) {
                fprintf(stderr, "curl_multi_post: request failed: %s (HTTP %ld)\n",
                        result != CURLE_OK ? (errors[slot][0] ? errors[slot] : curl_easy_strerror(result)) : "status",
                        response);
            }
            finished++;
            curl_multi_remove_handle(multi, easy); /* message is invalid from here on */
            if (next < count) {
                if (start(multi, easy, &bodies[next++], errors[slot]) != 0) goto done;
                progressed = 1;
            }
        }
        if (finished < count && !progressed) {
            mc = curl_multi_poll(multi, NULL, 0, 1000, NULL);
            if (mc != CURLM_OK) {
                fprintf(stderr, "curl_multi_post: curl_multi_poll: %s\n", curl_multi_strerror(mc));
                goto done;
            }
        }
    }
    double elapsed = now_seconds() - started;
    printf("%zu events, %zu 2xx, %.3f s, %.0f events/s\n", count, ok, elapsed,
           elapsed > 0 ? (double)count / elapsed : 0.0);
    status = ok == count ? 0 : 1;

done:
    if (easies) {
        for (long i = 0; i < in_flight; i++) {
            if (!easies[i]) continue;
            if (multi) curl_multi_remove_handle(multi, easies[i]); /* harmless when not added */
            curl_easy_cleanup(easies[i]);
        }
    }
    if (multi) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    free(errors);
    free(easies);
    curl_global_cleanup();
    free(bodies);
    free(text);
    return status;
}
