// ciot_curl.h: libcurl, loaded when the host first needs HTTP (a registry pull), not linked.
//
// plugin-host is also every module's runner (plugin-host-runner is a link to it): linking
// libcurl would make every runner process map libcurl and the two dozen libraries it needs
// (TLS, HTTP/2, SSH, LDAP, Kerberos) and relocate them, for nothing. Only the process that pulls
// loads it (dlopen of libcurl.so.4, Debian's libcurl4). Types come from <curl/curl.h>; calls go
// through the function pointers `ciot_curl_load` resolved. curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call: one wrapper per argument type.
#ifndef CIOT_CURL_H
#define CIOT_CURL_H

#include <stddef.h>
#include <curl/curl.h>

/// Loads libcurl and initializes it once (thread-safe). Returns 0, or -1 with a reason in
/// `error` (NUL-terminated, at most `error_size` bytes with the NUL).
int ciot_curl_load(char *error, size_t error_size);

/// The loaded library's version ("7.88.1"), or NULL before `ciot_curl_load` succeeded.
const char *ciot_curl_version(void);

CURL *ciot_curl_easy_init(void);
void ciot_curl_easy_cleanup(CURL *handle);
void ciot_curl_easy_reset(CURL *handle);
CURLcode ciot_curl_easy_perform(CURL *handle);
const char *ciot_curl_easy_strerror(CURLcode code);

CURLcode ciot_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ciot_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ciot_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ciot_curl_setopt_list(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ciot_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);

/// The body and header callbacks (CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION), with `context`
/// as their last argument.
typedef size_t (*ciot_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode ciot_curl_set_write_callback(CURL *handle, ciot_curl_data_callback callback, void *context);
CURLcode ciot_curl_set_header_callback(CURL *handle, ciot_curl_data_callback callback, void *context);

/// CURLOPT_XFERINFOFUNCTION: called with the totals so far; a non-zero return aborts the transfer.
typedef int (*ciot_curl_progress_callback)(void *context, curl_off_t download_total, curl_off_t downloaded,
                                           curl_off_t upload_total, curl_off_t uploaded);
CURLcode ciot_curl_set_progress_callback(CURL *handle, ciot_curl_progress_callback callback, void *context);

CURLcode ciot_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ciot_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ciot_curl_getinfo_string(CURL *handle, CURLINFO info, const char **value);

struct curl_slist *ciot_curl_slist_append(struct curl_slist *list, const char *text);
void ciot_curl_slist_free_all(struct curl_slist *list);

#endif
