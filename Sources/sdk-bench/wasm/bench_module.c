/*
 * The module `sdk-bench wasm` builds twice from this one file, as a native shared library (cc)
 * and as a WebAssembly module (clang-14 --target=wasm32-wasi), to compare the two in one run:
 * a typed command call (bench_add) and a compute-bound call (bench_crc32: CRC-32 over 64 KB).
 * start says ready and then only heartbeats every 10 s, so that an idle module's memory is measured.
 */
#include <stdint.h>
#include <time.h>
#if !defined(__wasm__)
#include <pthread.h>
#endif

#include "iotsdk_module.h"

#define EXPORT __attribute__((visibility("default")))

static uint8_t block[65536];
static uint32_t table[256];

static void *beat(void *argument) {
    const iotsdk_host *host = argument;
    while (!host->should_stop(host)) {
        host->heartbeat(host);
        struct timespec interval = { 10, 0 };
        nanosleep(&interval, NULL);
    }
    return NULL;
}

EXPORT int32_t bench_start(const iotsdk_host *host) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (uint32_t i = 0; i < sizeof block; i++) block[i] = (uint8_t)(i * 31u + 7u);
    host->ready(host);
#if defined(__wasm__)
    beat((void *)host);
#else
    pthread_t thread;
    if (pthread_create(&thread, NULL, beat, (void *)host) != 0) return 1;
    pthread_detach(thread);
#endif
    return 0;
}

EXPORT int32_t bench_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}

EXPORT int32_t bench_add(int32_t a, int32_t b) {
    return a + b;
}

/* CRC-32 (IEEE) of the 64 KB block, `rounds` times over. */
EXPORT uint32_t bench_crc32(uint32_t rounds) {
    uint32_t crc = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        crc = ~crc;
        for (uint32_t i = 0; i < sizeof block; i++) crc = table[(crc ^ block[i]) & 0xFF] ^ (crc >> 8);
        crc = ~crc;
    }
    return crc;
}
