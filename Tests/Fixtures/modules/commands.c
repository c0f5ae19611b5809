/*
 * commands.c: typed commands of the test module, for the libffi call tests
 * (Tests/PluginHostTests/CommandCallTests.swift). Compiled into libtestmodule.so with testmodule.c.
 *
 * Every cmd_* function but cmd_calls counts its calls, so a test can prove that a refused call
 * made no call. Results depend on every argument and its position, so that an argument passed in
 * the wrong place or with the wrong width shows.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static atomic_int command_calls;

static void counted(void) { atomic_fetch_add(&command_calls, 1); }

/* How many cmd_* functions (other than this one) were called in this process. */
EXPORT int32_t cmd_calls(void) { return atomic_load(&command_calls); }

/* Ends the process (SIGABRT) in the middle of the call. */
EXPORT int32_t cmd_abort(void) {
    counted();
    fflush(stdout);
    abort();
}

/* Wraps around like two's complement instead of overflowing. */
EXPORT int32_t cmd_add(int32_t a, int32_t b) {
    counted();
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

EXPORT int64_t cmd_mul64(int64_t a, int64_t b) {
    counted();
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

/* The bitwise complement: 0 -> 4294967295. */
EXPORT uint32_t cmd_u32(uint32_t x) {
    counted();
    return ~x;
}

EXPORT uint64_t cmd_u64_max(void) {
    counted();
    return UINT64_MAX;
}

EXPORT uint64_t cmd_u64(uint64_t x) {
    counted();
    return x;
}

EXPORT double cmd_scale(double value, double factor) {
    counted();
    return value * factor;
}

EXPORT bool cmd_not(bool value) {
    counted();
    return !value;
}

/* "hello, <name>" in a buffer of the calling thread, valid until its next call. */
EXPORT const char *cmd_greet(const char *name) {
    static __thread char buffer[4200];
    counted();
    snprintf(buffer, sizeof buffer, "hello, %s", name);
    return buffer;
}

/* Returns its argument: the host must copy the result before the argument's storage goes. */
EXPORT const char *cmd_echo(const char *text) {
    counted();
    return text;
}

EXPORT const char *cmd_null(void) {
    counted();
    return NULL;
}

/* The length in bytes (UTF-8), to check what C received. */
EXPORT int32_t cmd_strlen(const char *text) {
    counted();
    return (int32_t)strlen(text);
}

/* FNV-1a over each argument as a 64-bit little-endian word, in order (the bool as 0 or 1, the
 * signed integers sign-extended, the double as its bits), then the string's bytes and its length
 * as a word; the 64-bit hash folded to 32 bits (high ^ low). CommandCallTests.swift computes the same. */
static uint64_t fnv_word(uint64_t hash, uint64_t word) {
    for (int i = 0; i < 8; i++) {
        hash ^= (word >> (8 * i)) & 0xff;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

EXPORT int32_t cmd_mixed(bool b, int32_t i32, int64_t i64, uint32_t u32, uint64_t u64, double d, const char *s) {
    counted();
    uint64_t hash = 0xcbf29ce484222325ULL;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    hash = fnv_word(hash, b ? 1 : 0);
    hash = fnv_word(hash, (uint64_t)(int64_t)i32);
    hash = fnv_word(hash, (uint64_t)i64);
    hash = fnv_word(hash, u32);
    hash = fnv_word(hash, u64);
    hash = fnv_word(hash, bits);
    size_t length = strlen(s);
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)s[i];
        hash *= 0x100000001b3ULL;
    }
    hash = fnv_word(hash, length);
    return (int32_t)(uint32_t)(hash ^ (hash >> 32));
}

/* The same arguments as text: "true -5 -9000000000 4000000000 18446744073709551615 2.5 abc". */
EXPORT const char *cmd_mixed_text(bool b, int32_t i32, int64_t i64, uint32_t u32, uint64_t u64, double d, const char *s) {
    static __thread char buffer[4200];
    counted();
    snprintf(buffer, sizeof buffer, "%s %d %lld %u %llu %g %s", b ? "true" : "false", i32, (long long)i64, u32,
             (unsigned long long)u64, d, s);
    return buffer;
}

/* 16 parameters (the manifest's maximum) of mixed types, so that some go on the stack on every
 * ABI: the sum of (position + 1) * argument, position counted from 0, doubles truncated toward 0,
 * the bools as 0 or 1, in wrapping 64-bit arithmetic. */
EXPORT int64_t cmd_sum16(int32_t a0, int64_t a1, double a2, uint32_t a3, uint64_t a4, bool a5, int32_t a6, double a7,
                         int64_t a8, uint32_t a9, double a10, int32_t a11, uint64_t a12, bool a13, double a14, int64_t a15) {
    counted();
    uint64_t sum = 0;
    sum += 1 * (uint64_t)(int64_t)a0;
    sum += 2 * (uint64_t)a1;
    sum += 3 * (uint64_t)(int64_t)a2;
    sum += 4 * (uint64_t)a3;
    sum += 5 * a4;
    sum += 6 * (uint64_t)(a5 ? 1 : 0);
    sum += 7 * (uint64_t)(int64_t)a6;
    sum += 8 * (uint64_t)(int64_t)a7;
    sum += 9 * (uint64_t)a8;
    sum += 10 * (uint64_t)a9;
    sum += 11 * (uint64_t)(int64_t)a10;
    sum += 12 * (uint64_t)(int64_t)a11;
    sum += 13 * a12;
    sum += 14 * (uint64_t)(a13 ? 1 : 0);
    sum += 15 * (uint64_t)(int64_t)a14;
    sum += 16 * (uint64_t)a15;
    return (int64_t)sum;
}

/* 16 strings joined with ",". */
EXPORT const char *cmd_join16(const char *s0, const char *s1, const char *s2, const char *s3, const char *s4, const char *s5,
                              const char *s6, const char *s7, const char *s8, const char *s9, const char *s10,
                              const char *s11, const char *s12, const char *s13, const char *s14, const char *s15) {
    static __thread char buffer[1024];
    counted();
    snprintf(buffer, sizeof buffer, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s", s0, s1, s2, s3, s4, s5, s6, s7, s8,
             s9, s10, s11, s12, s13, s14, s15);
    return buffer;
}

/* 16 doubles: more than the 8 floating-point argument registers of x86-64 and AArch64.
 * The sum of (position + 1) * argument. */
EXPORT double cmd_dsum16(double d0, double d1, double d2, double d3, double d4, double d5, double d6, double d7,
                         double d8, double d9, double d10, double d11, double d12, double d13, double d14, double d15) {
    counted();
    double d[16] = {d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15};
    double sum = 0;
    for (int i = 0; i < 16; i++) sum += (i + 1) * d[i];
    return sum;
}
