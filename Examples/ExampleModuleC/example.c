/*
 * An example module in C (Examples/ExampleModuleC): what a C module needs and nothing more.
 * Built by SwiftPM as libExampleModuleC.so (a dynamic library product), or by cc alone:
 * Documentation/WritingAModule.md builds, packs, signs, installs, updates and rolls it back.
 * The same file builds for wasm32 (Scripts/build-wasm-example.sh, Documentation/WasmModules.md).
 *
 * - start: says ready, then sends a heartbeat every second from a thread until the host asks it
 *   to stop (in wasm32, which has no threads, start itself does so and returns then);
 * - stop: returns at once (the heartbeat thread sees should_stop);
 * - commands: example_set_threshold(double) -> int32, example_uptime_ms() -> uint64.
 */
#if !defined(__wasm__)
#include <pthread.h>
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "iotsdk_module.h"

#define EXPORT __attribute__((visibility("default")))

static _Atomic double threshold = 25.0;
static struct timespec started;

/* sdk-bench builds a quiet variant with -DEXAMPLE_HEARTBEAT_SECONDS=10. */
#ifndef EXAMPLE_HEARTBEAT_SECONDS
#define EXAMPLE_HEARTBEAT_SECONDS 1
#endif

static void *heartbeat(void *argument) {
    const iotsdk_host *host = argument;
    while (!host->should_stop(host)) {
        host->heartbeat(host);
        struct timespec interval = { EXAMPLE_HEARTBEAT_SECONDS, 0 };
        nanosleep(&interval, NULL);
    }
    return NULL;
}

EXPORT int32_t example_start(const iotsdk_host *host) {
    clock_gettime(CLOCK_MONOTONIC, &started);
#ifndef EXAMPLE_NEVER_READY   /* a deliberately broken build, for Documentation/WritingAModule.md's rollback */
    host->ready(host);
#endif
#if defined(__wasm__)
    char line[160];
    snprintf(line, sizeof line, "example module %s started, data in %s", host->module_version, host->data_dir);
    host->log(host, IOTSDK_LOG_INFO, line);
    heartbeat((void *)host);   /* until the host asks the module to stop; commands run meanwhile */
    return 0;
#else
    pthread_t thread;
    if (pthread_create(&thread, NULL, heartbeat, (void *)host) != 0) return 1;
    pthread_detach(thread);
    char line[160];
    snprintf(line, sizeof line, "example module %s started, data in %s", host->module_version, host->data_dir);
    host->log(host, IOTSDK_LOG_INFO, line);
    return 0;
#endif
}

EXPORT int32_t example_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}

EXPORT int32_t example_set_threshold(double celsius) {
    if (celsius < -40.0 || celsius > 125.0) return 1;
    atomic_store(&threshold, celsius);
    return 0;
}

EXPORT uint64_t example_uptime_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - started.tv_sec) * 1000u + (uint64_t)((now.tv_nsec - started.tv_nsec) / 1000000);
}
