/*
 * The C part of the Swift wasm example: including iotsdk_module.h once defines the exports the
 * runner needs (iotsdk_host, iotsdk_alloc, iotsdk_free); and the sleep Swift calls.
 */
#include <time.h>

#include "iotsdk_module.h"
#include "sleep.h"

void example_sleep_seconds(uint32_t seconds) {
    struct timespec interval = { (time_t)seconds, 0 };
    nanosleep(&interval, NULL);
}
