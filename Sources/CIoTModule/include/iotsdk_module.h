/*
 * iotsdk_module.h: the C ABI between the IoTSDK plugin host and a module's shared library.
 * Module ABI version 1 (the manifest's "abi" field). A C module includes this one header;
 * a Swift module exports the same functions with @_cdecl.
 *
 * Every entry point (start, stop, typed commands aside) and every update hook has the type
 * iotsdk_entry_fn: it receives the host's table and returns 0 for success, anything else for
 * failure. See Documentation/ModuleImage.md and Documentation/Updates.md.
 */
#ifndef IOTSDK_MODULE_H
#define IOTSDK_MODULE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSDK_MODULE_ABI 1

enum iotsdk_log_level {
    IOTSDK_LOG_DEBUG = 0,
    IOTSDK_LOG_INFO = 1,
    IOTSDK_LOG_WARNING = 2,
    IOTSDK_LOG_ERROR = 3
};

typedef struct iotsdk_host iotsdk_host;

/* What the host gives a module. Fields are only ever appended; check `size` before using a
 * field added after ABI 1's first release. */
struct iotsdk_host {
    uint32_t abi;                 /* IOTSDK_MODULE_ABI of the host */
    uint32_t size;                /* sizeof(struct iotsdk_host) as the host built it */
    void *context;                /* the host's; do not touch */
    const char *module_id;        /* e.g. "com.example.thermostat" */
    const char *module_version;   /* e.g. "1.2.0" */
    const char *module_dir;       /* the module's files, read-only */
    const char *data_dir;         /* the module's writable data, kept across updates and rollbacks */
    const char *step;             /* "run" for start/stop, or the hook's name: "verify", "install", ... */
    /* Tells the host the module is up (once, after start). Health counts from here. */
    void (*ready)(const iotsdk_host *host);
    /* Tells the host the module is alive; call at least every heartbeatIntervalSeconds. */
    void (*heartbeat)(const iotsdk_host *host);
    /* A line for the module's log (kept by the host with the step's output). */
    void (*log)(const iotsdk_host *host, int32_t level, const char *message);
    /* Non-zero once the host asked the module to stop; a blocking start() should then return. */
    int32_t (*should_stop)(const iotsdk_host *host);
};

/* start, stop and every hook. */
typedef int32_t (*iotsdk_entry_fn)(const iotsdk_host *host);

#ifdef __cplusplus
}
#endif

#endif /* IOTSDK_MODULE_H */
