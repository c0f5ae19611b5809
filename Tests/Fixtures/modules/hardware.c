/*
 * hardware.c: the part of the test module that asks the host for hardware through the module
 * ABI's gpio_request and i2c_transfer (Tests/PluginHostTests/HardwareRequestTests.swift).
 * Compiled into libtestmodule.so with testmodule.c; everything here is static or prefixed `hw_`
 * (hw_behavior, hw_load and hw_log serve mqtt.c too).
 *
 * start entry point hw_start (stop: hw_stop), and the hook hw_hook, do what the words of
 * <module_dir>/behavior (the file testmodule.c reads too) say, in this order:
 *   hw-gpio CHIP:LINE:DIR   gpio_request(CHIP, LINE, DIR == "output") (DIR: input or output)
 *   hw-i2c BUS:ADDR         i2c_transfer(BUS, ADDR, [write 0xD0, read 2])
 *                           (each word may be given several times; ADDR in hex, e.g. 0x76)
 *   hw-threads N            N threads at once, each asking for line 100 + its index of gpiochip0
 *                           20 times; each checks that every call returned -EACCES and that
 *                           last_error names its own line (request ids and last_error are per
 *                           call and per thread); logs `hw: threads N ok` or what went wrong
 *   hw-delay-ms N           (start only) the requests are made N ms after ready, from a thread
 * Each request logs one line through the host:
 *   hw: gpio_request(gpiochip0, 18, output) = -13 (Permission denied): <last_error>
 *   hw: i2c_transfer(1, 0x50) = -13 (Permission denied): <last_error>
 * and a granted line is closed at once (`= <fd> (granted)`). hw_start then signals ready and
 * sends a heartbeat every 100 ms until should_stop(), and logs `hw: still running` with the
 * first heartbeat after its requests.
 */
#include "iotsdk_module.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Shared with mqtt.c (with hw_load and hw_log). */
char hw_behavior[4096];

void hw_load(const iotsdk_host *host) {
    char path[4096];
    hw_behavior[0] = 0;
    snprintf(path, sizeof path, "%s/behavior", host->module_dir);
    FILE *file = fopen(path, "r");
    if (!file) return;
    size_t n = fread(hw_behavior, 1, sizeof hw_behavior - 1, file);
    hw_behavior[n] = 0;
    fclose(file);
}

static void hw_sleep_ms(long milliseconds) {
    struct timespec t = { milliseconds / 1000, (milliseconds % 1000) * 1000000L };
    while (nanosleep(&t, &t) == -1 && errno == EINTR) {}
}

void hw_log(const iotsdk_host *host, const char *format, ...) __attribute__((format(printf, 2, 3)));
void hw_log(const iotsdk_host *host, const char *format, ...) {
    char line[2048];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(line, sizeof line, format, arguments);
    va_end(arguments);
    host->log(host, IOTSDK_LOG_INFO, line);
}

/* Whether the host's table has the hardware calls (a host of the first ABI 1 release has not). */
static int hw_available(const iotsdk_host *host) {
    return host->size >= offsetof(iotsdk_host, last_error) + sizeof host->last_error;
}

static const char *hw_error_text(int32_t result) {
    return result >= 0 ? "granted" : strerror((int)-result);
}

static void hw_gpio(const iotsdk_host *host, const char *spec) {
    char chip[256], direction[32];
    unsigned line = 0;
    if (sscanf(spec, "%255[^:]:%u:%31s", chip, &line, direction) != 3) {
        hw_log(host, "hw: bad hw-gpio word '%s'", spec);
        return;
    }
    int output = strcmp(direction, "output") == 0;
    int32_t result = host->gpio_request(host, chip, line, output, 0);
    hw_log(host, "hw: gpio_request(%s, %u, %s) = %d (%s): %s", chip, line, output ? "output" : "input", result,
           hw_error_text(result), host->last_error(host));
    if (result >= 0) close(result);
}

static void hw_i2c(const iotsdk_host *host, const char *spec) {
    unsigned bus = 0, address = 0;
    if (sscanf(spec, "%u:%x", &bus, &address) != 2) {
        hw_log(host, "hw: bad hw-i2c word '%s'", spec);
        return;
    }
    uint8_t reg = 0xD0, data[2] = {0, 0};
    iotsdk_i2c_segment segments[2] = {
        { .read = 0, .length = 1, .data = &reg },
        { .read = 1, .length = 2, .data = data },
    };
    int32_t result = host->i2c_transfer(host, bus, (uint8_t)address, 2, segments);
    hw_log(host, "hw: i2c_transfer(%u, 0x%02x) = %d (%s): %s", bus, address, result,
           result == 0 ? "ok" : strerror((int)-result), host->last_error(host));
}

struct hw_thread_job {
    const iotsdk_host *host;
    int index;
    int failures;
    char first_failure[512];
};

static void *hw_thread(void *argument) {
    struct hw_thread_job *job = argument;
    const iotsdk_host *host = job->host;
    unsigned line = 100 + (unsigned)job->index;
    char expected[64];
    snprintf(expected, sizeof expected, "gpiochip0 line %u output is not declared", line);
    for (int i = 0; i < 20; i++) {
        int32_t result = host->gpio_request(host, "gpiochip0", line, 1, 0);
        const char *why = host->last_error(host);
        if (result != -EACCES || strstr(why, expected) == NULL) {
            if (job->failures++ == 0)
                snprintf(job->first_failure, sizeof job->first_failure, "thread %d call %d: %d, '%s'", job->index, i, result, why);
            if (result >= 0) close(result);
        }
    }
    return NULL;
}

static void hw_threads(const iotsdk_host *host, int count) {
    if (count < 1 || count > 64) count = 8;
    pthread_t threads[64];
    struct hw_thread_job jobs[64];
    for (int i = 0; i < count; i++) {
        jobs[i] = (struct hw_thread_job){ .host = host, .index = i };
        pthread_create(&threads[i], NULL, hw_thread, &jobs[i]);
    }
    int failures = 0;
    const char *first = "";
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        if (jobs[i].failures && !failures) first = jobs[i].first_failure;
        failures += jobs[i].failures;
    }
    if (failures == 0) hw_log(host, "hw: threads %d ok", count);
    else hw_log(host, "hw: threads %d: %d failures, first: %s", count, failures, first);
}

/* Runs every hw-* word of the behaviour, in order. */
static void hw_requests(const iotsdk_host *host) {
    if (!hw_available(host)) {
        hw_log(host, "hw: the host's table (%u bytes) has no hardware calls", host->size);
        return;
    }
    char copy[sizeof hw_behavior];
    char *save = NULL;
    strcpy(copy, hw_behavior);
    for (char *token = strtok_r(copy, " \t\r\n", &save); token; token = strtok_r(NULL, " \t\r\n", &save)) {
        int gpio = strcmp(token, "hw-gpio") == 0, i2c = strcmp(token, "hw-i2c") == 0, threads = strcmp(token, "hw-threads") == 0;
        if (!gpio && !i2c && !threads) continue;
        char *value = strtok_r(NULL, " \t\r\n", &save);
        if (!value) break;
        if (gpio) hw_gpio(host, value);
        if (i2c) hw_i2c(host, value);
        if (threads) hw_threads(host, atoi(value));
    }
}

static long hw_word_value(const char *word, long fallback) {
    const char *at = strstr(hw_behavior, word);
    return at ? atol(at + strlen(word)) : fallback;
}

static volatile int hw_requests_done;

static void *hw_runner(void *argument) {
    const iotsdk_host *host = argument;
    long delay = hw_word_value("hw-delay-ms ", -1);
    if (delay >= 0) {
        hw_sleep_ms(delay);
        hw_requests(host);
        __atomic_store_n(&hw_requests_done, 1, __ATOMIC_SEQ_CST);
    }
    int said = 0;
    while (!host->should_stop(host)) {
        host->heartbeat(host);
        if (!said && __atomic_load_n(&hw_requests_done, __ATOMIC_SEQ_CST)) {
            hw_log(host, "hw: still running");
            said = 1;
        }
        hw_sleep_ms(100);
    }
    return NULL;
}

EXPORT int32_t hw_start(const iotsdk_host *host) {
    hw_load(host);
    if (hw_word_value("hw-delay-ms ", -1) < 0) {
        hw_requests(host);
        hw_requests_done = 1;
    }
    host->ready(host);
    pthread_t thread;
    if (pthread_create(&thread, NULL, hw_runner, (void *)host) != 0) return 1;
    pthread_detach(thread);
    return 0;
}

EXPORT int32_t hw_stop(const iotsdk_host *host) {
    (void)host;
    printf("hw_stop called\n");
    return 0;
}

EXPORT int32_t hw_hook(const iotsdk_host *host) {
    hw_load(host);
    hw_requests(host);
    return 0;
}
