/*
 * A wasm module that asks for hardware through the host table (WasmModuleTests), built with
 * clang-14 for wasm32 by the test. Its verify hook prints what each call returned and the host's
 * reason; the test declares gpiochip0 line 17 (output) and i2c-1 address 0x76.
 */
#include <stdint.h>
#include <stdio.h>

#include "iotsdk_module.h"

#define EXPORT __attribute__((visibility("default")))

static void report(const iotsdk_host *host, const char *what, int32_t result) {
    printf("wasm-hw: %s = %d: %s\n", what, result, result < 0 ? host->last_error(host) : "");
}

EXPORT int32_t probe_hardware(const iotsdk_host *host) {
    printf("wasm-hw: size covers i2c_transfer %d, gpio_request_lines %d\n",
           host->size >= offsetof(iotsdk_host, last_error) + sizeof host->last_error,
           host->size >= offsetof(iotsdk_host, gpio_request_lines) + sizeof host->gpio_request_lines);
    report(host, "gpio_request(gpiochip0, 18, output)", host->gpio_request(host, "gpiochip0", 18, 1, 0));
    report(host, "gpio_request(gpiochip0, 17, output)", host->gpio_request(host, "gpiochip0", 17, 1, 0));
    uint8_t reg = 0xD0, value = 0;
    iotsdk_i2c_segment segments[2] = { { 0, 1, &reg }, { 1, 1, &value } };
    report(host, "i2c_transfer(1, 0x50)", host->i2c_transfer(host, 1, 0x50, 2, segments));
    report(host, "i2c_transfer(1, 0x76)", host->i2c_transfer(host, 1, 0x76, 2, segments));
    report(host, "gpio_set(1)", iotsdk_gpio_set(host, 1, 1));
    iotsdk_i2c_segment outside[1] = { { 1, 16, (uint8_t *)0xFFFFFFF0u } };
    report(host, "i2c_transfer(outside)", host->i2c_transfer(host, 1, 0x76, 1, outside));
    return 0;
}

EXPORT int32_t probe_start(const iotsdk_host *host) {
    host->ready(host);
    return 0;
}

EXPORT int32_t probe_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}
