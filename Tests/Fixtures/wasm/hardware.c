/*
 * A wasm module that asks for hardware through the host table, built with clang-14 for wasm32.
 * - probe_hardware (a hook, WasmModuleTests): prints what each call returned and the host's
 *   reason; the test declares gpiochip0 line 17 (output) and i2c-1 address 0x76.
 * - the hw_* commands (the QEMU lab, Sources/iotsdk-lab/RunnerLabTests.swift): open a line and a
 *   bus the lab names, drive the line, read a register, with gpio-sim and i2c-stub behind them.
 */
#include <stdbool.h>
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
    uint32_t offset = 17;
    report(host, "gpio_request_lines", host->gpio_request_lines(host, "gpiochip0", 1, &offset, NULL));
    report(host, "i2c_open(1)", host->i2c_open(host, 1));
    report(host, "gpio_request(gpiochip0, 18, output)", host->gpio_request(host, "gpiochip0", 18, 1, 0));
    report(host, "gpio_request(gpiochip0, 17, output)", host->gpio_request(host, "gpiochip0", 17, 1, 0));
    uint8_t reg = 0xD0, value = 0;
    iotsdk_i2c_segment segments[2] = { { 0, 1, &reg }, { 1, 1, &value } };
    report(host, "i2c_transfer(1, 0x50)", host->i2c_transfer(host, 1, 0x50, 2, segments));
    report(host, "i2c_transfer(1, 0x76)", host->i2c_transfer(host, 1, 0x76, 2, segments));
    report(host, "gpio_set(1)", iotsdk_gpio_set(host, 1, 1));
    iotsdk_i2c_segment outside[1] = { { 1, 16, (uint8_t *)0xFFFFFFF0u } };
    report(host, "i2c_transfer(outside)", host->i2c_transfer(host, 1, 0x76, 1, outside));
    report(host, "gpio_request_events(gpiochip0, 17)", iotsdk_gpio_request_events(host, "gpiochip0", 17, IOTSDK_GPIO_EDGE_RISING));
    iotsdk_gpio_event event;
    report(host, "gpio_wait_event(2)", iotsdk_gpio_wait_event(host, 2, 0, &event));
    return 0;
}

static const iotsdk_host *running;
static int32_t line_request = -1;
static uint32_t i2c_bus;

EXPORT int32_t probe_start(const iotsdk_host *host) {
    running = host;
    host->ready(host);
    return 0;   /* driven by its commands from now on */
}

/* Requests `chip` line `line` as an output (inactive) and remembers `bus`: the handle or a negative errno. */
EXPORT int32_t hw_open(const char *chip, uint32_t line, uint32_t bus) {
    i2c_bus = bus;
    line_request = running->gpio_request(running, chip, line, 1, 0);
    if (line_request < 0) printf("hw_open: %d: %s\n", line_request, running->last_error(running));
    return line_request;
}

/* Requests another line, to see the host refuse it: the handle or a negative errno. */
EXPORT int32_t hw_request(const char *chip, uint32_t line) {
    int32_t result = running->gpio_request(running, chip, line, 1, 0);
    if (result < 0) printf("hw_request: %d: %s\n", result, running->last_error(running));
    return result;
}

EXPORT int32_t hw_set(bool active) {
    return iotsdk_gpio_set(running, line_request, active);
}

EXPORT int32_t hw_get(void) {
    return iotsdk_gpio_get(running, line_request);
}

static int32_t event_request = -1;

/* Requests `chip` line `line` as an input with both edges: the handle or a negative errno. */
EXPORT int32_t hw_events(const char *chip, uint32_t line) {
    event_request = iotsdk_gpio_request_events(running, chip, line, IOTSDK_GPIO_EDGE_RISING | IOTSDK_GPIO_EDGE_FALLING);
    if (event_request < 0) printf("hw_events: %d: %s\n", event_request, running->last_error(running));
    return event_request;
}

/* The next edge on the line of hw_events within `timeout_ms`: 1 rising, 2 falling, 0 none, or a negative errno. */
EXPORT int32_t hw_wait(int32_t timeout_ms) {
    iotsdk_gpio_event event;
    int32_t result = iotsdk_gpio_wait_event(running, event_request, timeout_ms, &event);
    if (result < 0) printf("hw_wait: %d: %s\n", result, running->last_error(running));
    if (result == 1) printf("hw_wait: edge %u, line seqno %u, at %llu ns\n", event.edge, event.line_seqno, (unsigned long long)event.timestamp_ns);
    return result == 1 ? (int32_t)event.edge : result;
}

/* Register `reg` of the device at `address` on the bus hw_open named: the byte or a negative errno. */
EXPORT int32_t hw_read(uint32_t reg, uint32_t address) {
    uint8_t index = (uint8_t)reg, value = 0;
    iotsdk_i2c_segment segments[2] = { { 0, 1, &index }, { 1, 1, &value } };
    int32_t result = running->i2c_transfer(running, i2c_bus, (uint8_t)address, 2, segments);
    if (result < 0) printf("hw_read: %d: %s\n", result, running->last_error(running));
    return result < 0 ? result : value;
}

EXPORT int32_t probe_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}
