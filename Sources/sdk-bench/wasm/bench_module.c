/*
 * The module `sdk-bench wasm` builds twice from this one file, as a native shared library (cc)
 * and as a WebAssembly module (clang-14 --target=wasm32-wasi), to compare the two in one run:
 * a typed command call (bench_add), a compute-bound call (bench_crc32: CRC-32 over 64 KB) and
 * brokered I2C register reads (bench_i2c).
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
static const iotsdk_host *running;
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
    running = host;
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

/* `count` reads of register 0xD0 of the device at `address` on i2c-`bus` (a write of the register
 * number, then a one-byte read, as one combined transfer), each brokered by the host. Returns how
 * many failed. */
EXPORT int32_t bench_i2c(uint32_t count, uint32_t bus, uint32_t address) {
    uint8_t reg = 0xD0, value = 0;
    iotsdk_i2c_segment segments[2] = { { 0, 1, &reg }, { 1, 1, &value } };
    int32_t failed = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (running->i2c_transfer(running, bus, (uint8_t)address, 2, segments) != 0) failed++;
    }
    return failed;
}
