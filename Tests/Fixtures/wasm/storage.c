/*
 * A wasm module that uses its key-value and time-series stores (iotsdk_kv_*, iotsdk_ts_*),
 * built with clang-14 for wasm32 by WasmModuleTests.
 * - probe_storage (a hook): prints what each call returned and the host's reason.
 * - store_start / store_stop: the module of the update test. start records the version it was
 *   built as (STORE_VERSION) under "version", appends a reading, and says ready unless built
 *   with STORE_NEVER_READY; it logs what "version" held before it ran.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iotsdk_module.h"

#define EXPORT __attribute__((visibility("default")))
#ifndef STORE_VERSION
#define STORE_VERSION 1
#endif
#define STRING(x) #x
#define TEXT(x) STRING(x)

static void report(const iotsdk_host *host, const char *what, int32_t result) {
    printf("wasm-store: %s = %d: %s\n", what, result, result < 0 ? host->last_error(host) : "");
}

EXPORT int32_t probe_storage(const iotsdk_host *host) {
    char buffer[256];
    report(host, "kv_set(threshold, 21.5)", iotsdk_kv_set(host, "threshold", "21.5"));
    report(host, "kv_set(mode)", iotsdk_kv_set(host, "mode", "{\"name\":\"auto\",\"hold\":true}"));
    report(host, "kv_set(bad)", iotsdk_kv_set(host, "bad", "{oops"));
    int32_t length = iotsdk_kv_get(host, "mode", buffer, sizeof buffer);
    printf("wasm-store: kv_get(mode) = %d: %s\n", length, length >= 0 ? buffer : host->last_error(host));
    report(host, "kv_get(mode, small buffer)", iotsdk_kv_get(host, "mode", buffer, 4));
    report(host, "kv_get(outside)", iotsdk_wasm_kv_get("mode", 4, (char *)0xFFFFFF00u, 4096));
    report(host, "kv_get(missing)", iotsdk_kv_get(host, "missing", buffer, sizeof buffer));
    length = iotsdk_kv_keys(host, "", buffer, sizeof buffer);
    for (int32_t i = 0; i < length && i < (int32_t)sizeof buffer; i++) if (buffer[i] == 0) buffer[i] = ',';
    printf("wasm-store: kv_keys() = %d: %.*s\n", length, length > 0 ? length : 0, buffer);
    report(host, "kv_remove(mode)", iotsdk_kv_remove(host, "mode"));
    report(host, "kv_remove(mode) again", iotsdk_kv_remove(host, "mode"));

    const int64_t t1 = 1700000000000000000LL, minute = 60000000000LL;
    report(host, "ts_append(room, 294.15 K)", iotsdk_ts_append(host, "room", "Temperature", 294.15, t1));
    report(host, "ts_append(room, 295.65 K)", iotsdk_ts_append(host, "room", "Temperature", 295.65, t1 + minute));
    report(host, "ts_append(room, Pressure)", iotsdk_ts_append(host, "room", "Pressure", 101325, t1 + 2 * minute));
    report(host, "ts_append(room, Furlongs)", iotsdk_ts_append(host, "room", "Furlongs", 1, t1));
    report(host, "ts_append(room, -5 K)", iotsdk_ts_append(host, "room", "Temperature", -5, t1));
    iotsdk_reading readings[4];
    int32_t count = iotsdk_ts_query(host, "room", "Temperature", 0, INT64_MAX, 0, readings, 4);
    printf("wasm-store: ts_query(room) = %d:", count);
    for (int32_t i = 0; i < count; i++) printf(" %lld=%.2f", (long long)readings[i].timestamp_ns, readings[i].value);
    printf("\n");
    count = iotsdk_ts_query(host, "room", "Temperature", 0, INT64_MAX, 1, readings, 1);
    printf("wasm-store: ts_query(room, latest) = %d: %.2f\n", count, count == 1 ? readings[0].value : 0.0);
    report(host, "ts_query(nowhere)", iotsdk_ts_query(host, "nowhere", "Temperature", 0, INT64_MAX, 0, readings, 4));
    report(host, "ts_query(outside)", iotsdk_ts_query(host, "room", "Temperature", 0, INT64_MAX, 0, (iotsdk_reading *)0xFFFFFF00u, 4));
    return 0;
}

EXPORT int32_t store_start(const iotsdk_host *host) {
    char before[64] = "none";
    if (iotsdk_kv_get(host, "version", before, sizeof before) < 0) strcpy(before, "none");
    int32_t stored = iotsdk_kv_set(host, "version", TEXT(STORE_VERSION));
    int32_t appended = iotsdk_ts_append(host, "starts", "Ratio", STORE_VERSION, 0);
    printf("wasm-store: version %s found %s, set = %d, append = %d\n", TEXT(STORE_VERSION), before, stored, appended);
    fflush(stdout);
#ifndef STORE_NEVER_READY
    host->ready(host);
#endif
    while (!host->should_stop(host)) {
        host->heartbeat(host);
        struct timespec interval = { 0, 200000000 };
        nanosleep(&interval, NULL);
    }
    return 0;
}

EXPORT int32_t store_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}
