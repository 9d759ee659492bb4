#ifndef OCIFORGE_CCURL_SHIM_H
#define OCIFORGE_CCURL_SHIM_H
// libcurl's easy API. curl_easy_setopt/curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument kind. The gcc type-check macros are disabled; the wrappers carry the types instead.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

typedef size_t (*ociforge_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ociforge_curl_xferinfo_cb)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode ociforge_curl_setopt_long(CURL *h, CURLoption opt, long value) {
    return curl_easy_setopt(h, opt, value);
}
static inline CURLcode ociforge_curl_setopt_off(CURL *h, CURLoption opt, curl_off_t value) {
    return curl_easy_setopt(h, opt, value);
}
/// String options (libcurl copies them), slists, error buffer and callback user data.
static inline CURLcode ociforge_curl_setopt_ptr(CURL *h, CURLoption opt, const void *value) {
    return curl_easy_setopt(h, opt, value);
}
/// CURLOPT_WRITEFUNCTION, CURLOPT_READFUNCTION, CURLOPT_HEADERFUNCTION.
static inline CURLcode ociforge_curl_setopt_data_cb(CURL *h, CURLoption opt, ociforge_curl_data_cb cb) {
    return curl_easy_setopt(h, opt, cb);
}
static inline CURLcode ociforge_curl_setopt_xferinfo_cb(CURL *h, ociforge_curl_xferinfo_cb cb) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cb);
}
static inline CURLcode ociforge_curl_getinfo_long(CURL *h, CURLINFO info, long *out) {
    return curl_easy_getinfo(h, info, out);
}

/// Return values of the callbacks (macros Swift may import with the wrong integer type).
static inline size_t ociforge_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
#endif
