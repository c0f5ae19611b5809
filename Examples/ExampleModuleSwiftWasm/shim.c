/*
 * The C part of the Swift wasm example: including iotsdk_module.h once defines the exports the
 * runner needs (iotsdk_host, iotsdk_alloc, iotsdk_free); and the libc calls Swift makes (sleep,
 * numbers as text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iotsdk_module.h"
#include "sleep.h"

void example_sleep_seconds(uint32_t seconds) {
    struct timespec interval = { (time_t)seconds, 0 };
    nanosleep(&interval, NULL);
}

void example_format_double(double value, char *text, uint32_t capacity) {
    snprintf(text, capacity, "%.17g", value);
}

double example_parse_double(const char *text) {
    return strtod(text, NULL);
}
