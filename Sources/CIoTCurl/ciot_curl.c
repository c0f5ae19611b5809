#define _GNU_SOURCE
#include "ciot_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct {
    CURLcode (*global_init)(long flags);
    curl_version_info_data *(*version_info)(CURLversion age);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded = 0;

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (%s): install libcurl4", dlerror());
        return;
    }
#define RESOLVE(field, name)                                                                    \
    *(void **)(&api.field) = dlsym(library, name);                                              \
    if (!api.field) {                                                                           \
        snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s: install libcurl4 7.62 or later", name); \
        return;                                                                                 \
    }
    RESOLVE(global_init, "curl_global_init")
    RESOLVE(version_info, "curl_version_info")
    RESOLVE(easy_init, "curl_easy_init")
    RESOLVE(easy_cleanup, "curl_easy_cleanup")
    RESOLVE(easy_reset, "curl_easy_reset")
    RESOLVE(easy_perform, "curl_easy_perform")
    RESOLVE(easy_strerror, "curl_easy_strerror")
    RESOLVE(easy_setopt, "curl_easy_setopt")
    RESOLVE(easy_getinfo, "curl_easy_getinfo")
    RESOLVE(slist_append, "curl_slist_append")
    RESOLVE(slist_free_all, "curl_slist_free_all")
#undef RESOLVE
    CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init failed: %s", api.easy_strerror(code));
        return;
    }
    loaded = 1;
}

int ciot_curl_load(char *error, size_t error_size) {
    pthread_once(&once, load);
    if (loaded) return 0;
    if (error && error_size > 0) snprintf(error, error_size, "%s", load_error);
    return -1;
}

const char *ciot_curl_version(void) {
    return loaded ? api.version_info(CURLVERSION_NOW)->version : NULL;
}

CURL *ciot_curl_easy_init(void) { return api.easy_init(); }
void ciot_curl_easy_cleanup(CURL *handle) { api.easy_cleanup(handle); }
void ciot_curl_easy_reset(CURL *handle) { api.easy_reset(handle); }
CURLcode ciot_curl_easy_perform(CURL *handle) { return api.easy_perform(handle); }
const char *ciot_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }

CURLcode ciot_curl_setopt_long(CURL *handle, CURLoption option, long value) { return api.easy_setopt(handle, option, value); }
CURLcode ciot_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) { return api.easy_setopt(handle, option, value); }
CURLcode ciot_curl_setopt_string(CURL *handle, CURLoption option, const char *value) { return api.easy_setopt(handle, option, value); }
CURLcode ciot_curl_setopt_list(CURL *handle, CURLoption option, struct curl_slist *value) { return api.easy_setopt(handle, option, value); }
CURLcode ciot_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) { return api.easy_setopt(handle, option, value); }

CURLcode ciot_curl_set_write_callback(CURL *handle, ciot_curl_data_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_WRITEDATA, context);
}

CURLcode ciot_curl_set_header_callback(CURL *handle, ciot_curl_data_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_HEADERDATA, context);
}

CURLcode ciot_curl_set_progress_callback(CURL *handle, ciot_curl_progress_callback callback, void *context) {
    CURLcode code = api.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (code == CURLE_OK) code = api.easy_setopt(handle, CURLOPT_XFERINFODATA, context);
    return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

CURLcode ciot_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) { return api.easy_getinfo(handle, info, value); }
CURLcode ciot_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) { return api.easy_getinfo(handle, info, value); }
CURLcode ciot_curl_getinfo_string(CURL *handle, CURLINFO info, const char **value) { return api.easy_getinfo(handle, info, value); }

struct curl_slist *ciot_curl_slist_append(struct curl_slist *list, const char *text) { return api.slist_append(list, text); }
void ciot_curl_slist_free_all(struct curl_slist *list) { api.slist_free_all(list); }
