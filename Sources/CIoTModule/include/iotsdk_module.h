/*
 * iotsdk_module.h: the C ABI between the IoTSDK plugin host and a module's shared library.
 * Module ABI version 1 (the manifest's "abi" field). A C module includes this one header;
 * a Swift module exports the same functions with @_cdecl.
 *
 * Every entry point (start, stop, typed commands aside) and every update hook has the type
 * iotsdk_entry_fn: it receives the host's table and returns 0 for success, anything else for
 * failure. See Documentation/ModuleImage.md and Documentation/Updates.md.
 */
#ifndef IOTSDK_MODULE_H
#define IOTSDK_MODULE_H

#include <stdint.h>
#if defined(__wasm__)
/* WebAssembly (Documentation/WasmModules.md): wasi-libc has no kernel headers; the GPIO calls'
 * structures stay incomplete types there. */
struct gpio_v2_line_config;
struct gpiochip_info;
struct gpio_v2_line_info;
#else
#include <linux/gpio.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define IOTSDK_MODULE_ABI 1

enum iotsdk_log_level {
    IOTSDK_LOG_DEBUG = 0,
    IOTSDK_LOG_INFO = 1,
    IOTSDK_LOG_WARNING = 2,
    IOTSDK_LOG_ERROR = 3
};

typedef struct iotsdk_host iotsdk_host;

/* One message of a combined I2C transfer (iotsdk_host.i2c_transfer). */
typedef struct iotsdk_i2c_segment {
    uint8_t read;      /* 0: write `length` bytes from `data`; 1: read `length` bytes into `data` */
    uint16_t length;   /* at most 4096 */
    uint8_t *data;
} iotsdk_i2c_segment;

/* A message from the MQTT broker (iotsdk_host.mqtt_receive), in one allocation: free it with
 * iotsdk_host.mqtt_message_free. */
typedef struct iotsdk_mqtt_message {
    const char *topic;        /* NUL-terminated UTF-8, e.g. "commands/pi-42/com.example.m/set" */
    const uint8_t *payload;   /* payload_length bytes, not NUL-terminated */
    uint32_t payload_length;
    int32_t retain;           /* 1: the broker sent it from its retained messages */
} iotsdk_mqtt_message;

/* What the host gives a module. Fields are only ever appended; check `size` before using a
 * field added after ABI 1's first release. */
struct iotsdk_host {
    uint32_t abi;                 /* IOTSDK_MODULE_ABI of the host */
    uint32_t size;                /* sizeof(struct iotsdk_host) as the host built it */
    void *context;                /* the host's; do not touch */
    const char *module_id;        /* e.g. "com.example.thermostat" */
    const char *module_version;   /* e.g. "1.2.0" */
    const char *module_dir;       /* the module's files, read-only */
    const char *data_dir;         /* the module's writable data, kept across updates and rollbacks */
    const char *step;             /* "run" for start/stop, or the hook's name: "verify", "install", ... */
    /* Tells the host the module is up (once, after start). Health counts from here. */
    void (*ready)(const iotsdk_host *host);
    /* Tells the host the module is alive; call at least every heartbeatIntervalSeconds. */
    void (*heartbeat)(const iotsdk_host *host);
    /* A line for the module's log (kept by the host with the step's output). */
    void (*log)(const iotsdk_host *host, int32_t level, const char *message);
    /* Non-zero once the host asked the module to stop; a blocking start() should then return. */
    int32_t (*should_stop)(const iotsdk_host *host);

    /* ---- Appended after ABI 1's first release: use only if `size` covers the field, e.g.
     *      host->size >= offsetof(iotsdk_host, gpio_request) + sizeof host->gpio_request.
     * The hardware calls go through the host, which grants only what the manifest's
     * `capabilities` declare (and logs every decision to its audit log). They may be called from
     * any thread, also at the same time, and block until the host has answered. They return a
     * negative errno value on failure: -EACCES when the host refused (not declared), the kernel's
     * error when a declared request failed (-ENOENT: no such chip or bus, -EBUSY: line in use,
     * -EIO, -ENXIO: no device answered), -EINVAL for bad arguments, -EIO if the host is gone. */

    /* Requests one GPIO line of character device `chip` (e.g. "gpiochip0") as an input
     * (output == 0) or an output (initially active if initial_value != 0). Returns the line
     * request's file descriptor (>= 0, uAPI v2: GPIO_V2_LINE_GET_VALUES_IOCTL /
     * GPIO_V2_LINE_SET_VALUES_IOCTL on it); the module owns it and closes it when done. When the
     * module stops, the host drives the outputs it granted to their inactive state. */
    int32_t (*gpio_request)(const iotsdk_host *host, const char *chip, uint32_t line, int32_t output, int32_t initial_value);
    /* Runs one combined transfer (up to 32 segments, as I2C_RDWR) with 7-bit `address` on
     * /dev/i2c-`bus`, performed by the host. Read segments are filled in place. 0 or a negative
     * errno value; the reads of a failed transfer are undefined. */
    int32_t (*i2c_transfer)(const iotsdk_host *host, uint32_t bus, uint8_t address, uint32_t segment_count,
                            const iotsdk_i2c_segment *segments);
    /* Why the calling thread's last gpio_request or i2c_transfer failed (the host's reason, e.g.
     * "gpiochip0 line 18 output is not declared in capabilities.gpio ..."), or "" if it
     * succeeded. Valid until the thread's next hardware call. */
    const char *(*last_error)(const iotsdk_host *host);

    /* ---- Appended after the hardware calls above: check `size` covers gpio_line_info.
     * What IoTSDK's GPIO uses inside a runner: the kernel's own structures (linux/gpio.h, uAPI
     * v2), passed through the host, which allows declared lines only. */

    /* Requests `count` (1-64) lines of character device `chip` as GPIO_V2_GET_LINE_IOCTL does,
     * with the caller's line config: each line needs exactly one of GPIO_V2_LINE_FLAG_INPUT and
     * _OUTPUT, declared with that direction. Returns the line request's file descriptor (>= 0),
     * whose lines the module reads, drives and takes edge events from itself (reconfiguring
     * goes through gpio_reconfigure_lines below: the sandbox denies GPIO_V2_LINE_SET_CONFIG_IOCTL). */
    int32_t (*gpio_request_lines)(const iotsdk_host *host, const char *chip, uint32_t count, const uint32_t *offsets,
                                  const struct gpio_v2_line_config *config);
    /* Fills `info` for the index-th chip (from 0) of those the manifest declares lines of.
     * -ERANGE past the last one. */
    int32_t (*gpio_chip_info)(const iotsdk_host *host, uint32_t index, struct gpiochip_info *info);
    /* Fills `info` for a declared line, as GPIO_V2_GET_LINEINFO_IOCTL does; -EACCES for other lines. */
    int32_t (*gpio_line_info)(const iotsdk_host *host, const char *chip, uint32_t offset, struct gpio_v2_line_info *info);

    /* ---- Appended after gpio_line_info: check `size` covers it.
     * The manifest's capabilities.storageQuotaBytes (0: none). IoTSDK's Database limits a
     * database opened in data_dir to this size; other files in data_dir are not counted. */
    uint64_t storage_quota_bytes;

    /* ---- Appended after storage_quota_bytes: check `size` covers it.
     * Reconfigures the lines of `request_fd` (a descriptor gpio_request or gpio_request_lines
     * returned) as GPIO_V2_LINE_SET_CONFIG_IOCTL would: the host does it, once every line keeps
     * its declared direction (-EACCES otherwise). 0, or a negative errno. */
    int32_t (*gpio_reconfigure_lines)(const iotsdk_host *host, int32_t request_fd, const struct gpio_v2_line_config *config);
    /* Returns a descriptor of /dev/i2c-<bus> (a declared bus) for SMBus calls at native speed:
     * ioctl(fd, I2C_SLAVE, address) selects a declared address (the sandbox denies any other:
     * -1 with EPERM), then I2C_SMBUS, read and write work as on the device. I2C_RDWR is denied on
     * it: combined transfers go through i2c_transfer. -EOPNOTSUPP without the syscall filter
     * (unsandboxed, or log-only): use i2c_transfer then. */
    int32_t (*i2c_open)(const iotsdk_host *host, uint32_t bus);

    /* ---- Appended after i2c_open: check `size` covers device_id.
     * MQTT through the host's one broker connection (its uplink), limited to the topic filters
     * of the manifest's capabilities.mqtt ({device} and {module} expanded). Like the hardware
     * calls: any thread, blocking until the host answered, last_error says why a call failed.
     * -EACCES: the manifest does not allow the topic or filter (the host audits it);
     * -EINVAL: not a topic (publish: no '+' or '#') or filter, not UTF-8, over 4096 bytes, or qos
     * not 0 or 1; -EMSGSIZE: payload over the host's limit (at most 57344 bytes);
     * -ENOTCONN: the host has no uplink (plugin-host started without one); -EDQUOT: the module's
     * quota of queued bytes in the host is used up; -EIO: the host is gone. */

    /* Publishes `length` bytes at `payload` to `topic` at QoS `qos` (0 or 1), retained if
     * `retain` != 0, expiring after `expiry_seconds` (MQTT 5 message expiry; 0: never). 0 once
     * the host's uplink has taken the message (it delivers it at least once at QoS 1, also
     * across a broker outage), or a negative errno. */
    int32_t (*mqtt_publish)(const iotsdk_host *host, const char *topic, const void *payload, uint32_t length, int32_t qos,
                            int32_t retain, uint32_t expiry_seconds);
    /* Subscribes the module to `filter` ('+' and '#' allowed), which must be covered by a
     * declared subscribe filter (every topic it matches, the declared one matches too). Its
     * messages then wait for mqtt_receive. 0 or a negative errno. */
    int32_t (*mqtt_subscribe)(const iotsdk_host *host, const char *filter);
    /* Ends a subscription mqtt_subscribe made. 0 or a negative errno. */
    int32_t (*mqtt_unsubscribe)(const iotsdk_host *host, const char *filter);
    /* Waits up to `timeout_ms` (< 0: no limit, 0: just look) for the next message of the
     * module's subscriptions, in the order they arrived; once per message, however many of its
     * subscriptions match. 0 with *message set (free it with mqtt_message_free), -ETIMEDOUT,
     * -ECANCELED once the host asked the module to stop (should_stop), or -EIO when the host is
     * gone. When the module takes none for a while, the runner keeps the newest 1024 (at most
     * 1 MiB) and drops older ones (with a line in the module's output). */
    int32_t (*mqtt_receive)(const iotsdk_host *host, int32_t timeout_ms, iotsdk_mqtt_message **message);
    /* Frees a message mqtt_receive returned (NULL: nothing). */
    void (*mqtt_message_free)(const iotsdk_host *host, iotsdk_mqtt_message *message);
    /* The device's id, which {device} in the manifest's filters stands for (e.g. "pi-42"), to
     * build topics with; "" when the host has no uplink. */
    const char *device_id;
};

/* A module may export this symbol; the runner then calls it once with the host's table before it
 * calls any entry point or hook (the table stays valid until the runner exits). IoTSDK exports it,
 * so that a Swift module's GPIO.linux() and LinuxI2CBus go through the host. */
#define IOTSDK_ATTACH_SYMBOL "iotsdk_sdk_attach"
typedef void (*iotsdk_attach_fn)(const iotsdk_host *host);

/* start, stop and every hook. */
typedef int32_t (*iotsdk_entry_fn)(const iotsdk_host *host);

/* ---- Reading and driving a line request of gpio_request, the same in a native module (an ioctl
 * on the descriptor) and in a wasm one (through the runner, which holds the descriptor). Each
 * returns a negative errno on failure (-EBADF: not a request of this module). */

/* An edge on an input line (iotsdk_gpio_wait_event). */
typedef struct iotsdk_gpio_event {
    uint64_t timestamp_ns;   /* the kernel's timestamp of the edge (CLOCK_MONOTONIC) */
    uint32_t edge;           /* IOTSDK_GPIO_EDGE_RISING or IOTSDK_GPIO_EDGE_FALLING */
    uint32_t line_seqno;     /* the edge's sequence number on this line, from 1: a gap means missed edges */
} iotsdk_gpio_event;
#define IOTSDK_GPIO_EDGE_RISING 1
#define IOTSDK_GPIO_EDGE_FALLING 2

#if defined(__wasm__)
static inline int32_t iotsdk_gpio_get(const iotsdk_host *host, int32_t request);
static inline int32_t iotsdk_gpio_set(const iotsdk_host *host, int32_t request, int32_t active);
static inline int32_t iotsdk_gpio_release(const iotsdk_host *host, int32_t request);
static inline int32_t iotsdk_gpio_request_events(const iotsdk_host *host, const char *chip, uint32_t line, uint32_t edges);
static inline int32_t iotsdk_gpio_wait_event(const iotsdk_host *host, int32_t request, int32_t timeout_ms, iotsdk_gpio_event *event);
#else
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
/* 1 if the line is active, 0 if not. */
static inline int32_t iotsdk_gpio_get(const iotsdk_host *host, int32_t request) {
    struct gpio_v2_line_values values = { .bits = 0, .mask = 1 };
    (void)host;
    return ioctl(request, GPIO_V2_LINE_GET_VALUES_IOCTL, &values) < 0 ? -errno : (int32_t)(values.bits & 1);
}
/* Drives an output line active (active != 0) or inactive. */
static inline int32_t iotsdk_gpio_set(const iotsdk_host *host, int32_t request, int32_t active) {
    struct gpio_v2_line_values values = { .bits = active ? 1 : 0, .mask = 1 };
    (void)host;
    return ioctl(request, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0 ? -errno : 0;
}
/* Gives the line back (closes the request). */
static inline int32_t iotsdk_gpio_release(const iotsdk_host *host, int32_t request) {
    (void)host;
    return close(request) < 0 ? -errno : 0;
}
/* Requests declared input `line` of `chip` with edge detection (`edges`: IOTSDK_GPIO_EDGE_RISING,
 * _FALLING or both or'ed): a request, or a negative errno (-EACCES: not a declared input). */
static inline int32_t iotsdk_gpio_request_events(const iotsdk_host *host, const char *chip, uint32_t line, uint32_t edges) {
    struct gpio_v2_line_config config;
    if (host->size < offsetof(iotsdk_host, gpio_request_lines) + sizeof host->gpio_request_lines) return -ENOSYS;
    if (edges == 0 || (edges & ~3u) != 0) return -EINVAL;
    memset(&config, 0, sizeof config);
    config.flags = GPIO_V2_LINE_FLAG_INPUT | ((edges & IOTSDK_GPIO_EDGE_RISING) ? GPIO_V2_LINE_FLAG_EDGE_RISING : 0)
                 | ((edges & IOTSDK_GPIO_EDGE_FALLING) ? GPIO_V2_LINE_FLAG_EDGE_FALLING : 0);
    return host->gpio_request_lines(host, chip, 1, &line, &config);
}
/* Waits up to `timeout_ms` (< 0: no limit) for the next edge on `request`: 1 with *event filled,
 * 0 on timeout, or a negative errno. */
static inline int32_t iotsdk_gpio_wait_event(const iotsdk_host *host, int32_t request, int32_t timeout_ms, iotsdk_gpio_event *event) {
    struct pollfd descriptor = { .fd = request, .events = POLLIN, .revents = 0 };
    struct gpio_v2_line_event kernel;
    (void)host;
    int ready = poll(&descriptor, 1, timeout_ms);
    if (ready <= 0) return ready < 0 ? -errno : 0;
    if (read(request, &kernel, sizeof kernel) != (ssize_t)sizeof kernel) return -EIO;
    event->timestamp_ns = kernel.timestamp_ns;
    event->edge = kernel.id == GPIO_V2_LINE_EVENT_RISING_EDGE ? IOTSDK_GPIO_EDGE_RISING : IOTSDK_GPIO_EDGE_FALLING;
    event->line_seqno = kernel.line_seqno;
    return 1;
}
#endif

#if defined(__wasm__)
/* ---- WebAssembly modules (wasm32-wasi, Documentation/WasmModules.md) ----
 * The same source builds for wasm32: entry points, hooks and commands are exports (visibility
 * default, linked with -Wl,--export-dynamic), and the table above lives in the module's own
 * memory, where the runner finds it through the export iotsdk_host. Its calls go to the host
 * through the imports of module "iotsdk". A wasm module is single-threaded: the runner calls
 * commands and stop() while the module sleeps (nanosleep, or any other WASI poll_oneoff on a
 * clock, a wait for a GPIO edge or an MQTT message), or when start() has returned. The table
 * has every call: MQTT through the host's uplink as in a native module; the calls on kernel
 * structures (gpio_request_lines, gpio_chip_info, gpio_line_info, gpio_reconfigure_lines) return
 * -ENOSYS and i2c_open -EOPNOTSUPP, since no descriptor enters a wasm module (use gpio_request,
 * iotsdk_gpio_request_events and i2c_transfer). The module's key-value and time-series stores
 * are the iotsdk_kv_* and iotsdk_ts_* calls further down. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define IOTSDK_WASM_IMPORT(name) __attribute__((import_module("iotsdk"), import_name(#name)))
IOTSDK_WASM_IMPORT(ready) void iotsdk_wasm_ready(void);
IOTSDK_WASM_IMPORT(heartbeat) void iotsdk_wasm_heartbeat(void);
IOTSDK_WASM_IMPORT(log) void iotsdk_wasm_log(int32_t level, const char *text, uint32_t length);
IOTSDK_WASM_IMPORT(should_stop) int32_t iotsdk_wasm_should_stop(void);
/* Copies string `which` (0 id, 1 version, 2 module_dir, 3 data_dir, 4 step, 5 device_id, 6 the
 * storage quota in decimal) into `buffer`, without NUL; returns its length, or more than `capacity` when nothing was copied. */
IOTSDK_WASM_IMPORT(module_info) int32_t iotsdk_wasm_module_info(int32_t which, char *buffer, uint32_t capacity);
/* The hardware calls, shaped like the table's (and like the WASI proposals wasi-i2c and
 * wasi-gpio: an address on every I2C call, a line the host may refuse): a GPIO line request is a
 * handle the runner holds, read and driven with iotsdk_gpio_get/_set below. */
IOTSDK_WASM_IMPORT(last_error) int32_t iotsdk_wasm_last_error(char *buffer, uint32_t capacity);
IOTSDK_WASM_IMPORT(i2c_transfer) int32_t iotsdk_wasm_i2c_transfer(uint32_t bus, uint32_t address, uint32_t count, const iotsdk_i2c_segment *segments);
IOTSDK_WASM_IMPORT(gpio_request) int32_t iotsdk_wasm_gpio_request(const char *chip, uint32_t length, uint32_t line, int32_t output, int32_t initial);
IOTSDK_WASM_IMPORT(gpio_get) int32_t iotsdk_wasm_gpio_get(int32_t request);
IOTSDK_WASM_IMPORT(gpio_set) int32_t iotsdk_wasm_gpio_set(int32_t request, int32_t active);
IOTSDK_WASM_IMPORT(gpio_release) int32_t iotsdk_wasm_gpio_release(int32_t request);
IOTSDK_WASM_IMPORT(gpio_request_events) int32_t iotsdk_wasm_gpio_request_events(const char *chip, uint32_t length, uint32_t line, uint32_t edges);
IOTSDK_WASM_IMPORT(gpio_wait_event) int32_t iotsdk_wasm_gpio_wait_event(int32_t request, int32_t timeout_ms, iotsdk_gpio_event *event);
IOTSDK_WASM_IMPORT(mqtt_publish) int32_t iotsdk_wasm_mqtt_publish(const char *topic, uint32_t topic_length, const void *payload, uint32_t length,
                                                                  int32_t qos, int32_t retain, uint32_t expiry_seconds);
IOTSDK_WASM_IMPORT(mqtt_subscribe) int32_t iotsdk_wasm_mqtt_subscribe(const char *filter, uint32_t length);
IOTSDK_WASM_IMPORT(mqtt_unsubscribe) int32_t iotsdk_wasm_mqtt_unsubscribe(const char *filter, uint32_t length);
/* Waits for a message: 0 with sizes[0] its topic's length and sizes[1] its payload's; the runner
 * holds it until mqtt_take copies it (topic without NUL) and returns its retain flag. */
IOTSDK_WASM_IMPORT(mqtt_receive) int32_t iotsdk_wasm_mqtt_receive(int32_t timeout_ms, uint32_t sizes[2]);
IOTSDK_WASM_IMPORT(mqtt_take) int32_t iotsdk_wasm_mqtt_take(char *topic, uint8_t *payload);
IOTSDK_WASM_IMPORT(kv_set) int32_t iotsdk_wasm_kv_set(const char *key, uint32_t key_length, const char *json, uint32_t json_length);
IOTSDK_WASM_IMPORT(kv_get) int32_t iotsdk_wasm_kv_get(const char *key, uint32_t key_length, char *buffer, uint32_t capacity);
IOTSDK_WASM_IMPORT(kv_remove) int32_t iotsdk_wasm_kv_remove(const char *key, uint32_t key_length);
IOTSDK_WASM_IMPORT(kv_keys) int32_t iotsdk_wasm_kv_keys(const char *prefix, uint32_t prefix_length, char *buffer, uint32_t capacity);
IOTSDK_WASM_IMPORT(ts_append) int32_t iotsdk_wasm_ts_append(const char *series, uint32_t series_length, const char *quantity, uint32_t quantity_length,
                                                            double value, int64_t timestamp_ns);
IOTSDK_WASM_IMPORT(ts_query) int32_t iotsdk_wasm_ts_query(const char *series, uint32_t series_length, const char *quantity, uint32_t quantity_length,
                                                          int64_t from_ns, int64_t to_ns, int32_t newest_first, void *readings, uint32_t capacity);

static inline void iotsdk_wasm_table_ready(const iotsdk_host *host) { (void)host; iotsdk_wasm_ready(); }
static inline void iotsdk_wasm_table_heartbeat(const iotsdk_host *host) { (void)host; iotsdk_wasm_heartbeat(); }
static inline void iotsdk_wasm_table_log(const iotsdk_host *host, int32_t level, const char *message) {
    (void)host;
    iotsdk_wasm_log(level, message, (uint32_t)strlen(message));
}
static inline int32_t iotsdk_wasm_table_should_stop(const iotsdk_host *host) { (void)host; return iotsdk_wasm_should_stop(); }
static inline int32_t iotsdk_wasm_table_gpio_request(const iotsdk_host *host, const char *chip, uint32_t line, int32_t output, int32_t initial_value) {
    (void)host;
    return chip == NULL ? -EINVAL : iotsdk_wasm_gpio_request(chip, (uint32_t)strlen(chip), line, output, initial_value);
}
static inline int32_t iotsdk_wasm_table_i2c_transfer(const iotsdk_host *host, uint32_t bus, uint8_t address, uint32_t segment_count,
                                                     const iotsdk_i2c_segment *segments) {
    (void)host;
    return iotsdk_wasm_i2c_transfer(bus, address, segment_count, segments);
}
static inline const char *iotsdk_wasm_table_last_error(const iotsdk_host *host) {
    static char reason[512];
    (void)host;
    int32_t length = iotsdk_wasm_last_error(reason, sizeof reason - 1);
    if (length < 0 || length > (int32_t)sizeof reason - 1) length = 0;   /* a longer reason is not copied */
    reason[length] = 0;
    return reason;
}
static inline int32_t iotsdk_wasm_table_mqtt_publish(const iotsdk_host *host, const char *topic, const void *payload, uint32_t length,
                                                     int32_t qos, int32_t retain, uint32_t expiry_seconds) {
    (void)host;
    return topic == NULL ? -EINVAL : iotsdk_wasm_mqtt_publish(topic, (uint32_t)strlen(topic), payload, length, qos, retain, expiry_seconds);
}
static inline int32_t iotsdk_wasm_table_mqtt_subscribe(const iotsdk_host *host, const char *filter) {
    (void)host;
    return filter == NULL ? -EINVAL : iotsdk_wasm_mqtt_subscribe(filter, (uint32_t)strlen(filter));
}
static inline int32_t iotsdk_wasm_table_mqtt_unsubscribe(const iotsdk_host *host, const char *filter) {
    (void)host;
    return filter == NULL ? -EINVAL : iotsdk_wasm_mqtt_unsubscribe(filter, (uint32_t)strlen(filter));
}
/* The message in one malloc'ed block, as the native runner makes it: the struct, the topic and its NUL, the payload. */
static inline int32_t iotsdk_wasm_table_mqtt_receive(const iotsdk_host *host, int32_t timeout_ms, iotsdk_mqtt_message **message) {
    uint32_t sizes[2];
    (void)host;
    if (message == NULL) return -EINVAL;
    *message = NULL;
    int32_t result = iotsdk_wasm_mqtt_receive(timeout_ms, sizes);
    if (result < 0) return result;
    iotsdk_mqtt_message *block = malloc(sizeof *block + sizes[0] + 1 + (sizes[1] > 0 ? sizes[1] : 1));
    if (block == NULL) return -ENOMEM;
    char *topic = (char *)(block + 1);
    uint8_t *payload = (uint8_t *)topic + sizes[0] + 1;
    result = iotsdk_wasm_mqtt_take(topic, payload);
    if (result < 0) { free(block); return result; }
    topic[sizes[0]] = 0;
    block->topic = topic;
    block->payload = payload;
    block->payload_length = sizes[1];
    block->retain = result;
    *message = block;
    return 0;
}
static inline void iotsdk_wasm_table_mqtt_message_free(const iotsdk_host *host, iotsdk_mqtt_message *message) { (void)host; free(message); }
static inline int32_t iotsdk_wasm_table_gpio_request_lines(const iotsdk_host *host, const char *chip, uint32_t count, const uint32_t *offsets,
                                                           const struct gpio_v2_line_config *config) {
    (void)host; (void)chip; (void)count; (void)offsets; (void)config;
    return -ENOSYS;
}
static inline int32_t iotsdk_wasm_table_gpio_chip_info(const iotsdk_host *host, uint32_t index, struct gpiochip_info *info) {
    (void)host; (void)index; (void)info;
    return -ENOSYS;
}
static inline int32_t iotsdk_wasm_table_gpio_line_info(const iotsdk_host *host, const char *chip, uint32_t offset, struct gpio_v2_line_info *info) {
    (void)host; (void)chip; (void)offset; (void)info;
    return -ENOSYS;
}
static inline int32_t iotsdk_wasm_table_gpio_reconfigure_lines(const iotsdk_host *host, int32_t request_fd, const struct gpio_v2_line_config *config) {
    (void)host; (void)request_fd; (void)config;
    return -ENOSYS;
}
static inline int32_t iotsdk_wasm_table_i2c_open(const iotsdk_host *host, uint32_t bus) { (void)host; (void)bus; return -EOPNOTSUPP; }
static inline const char *iotsdk_wasm_info(int32_t which) {
    int32_t length = iotsdk_wasm_module_info(which, NULL, 0);
    char *text = malloc(length > 0 ? (size_t)length + 1 : 1);
    if (text == NULL) return "";
    if (length <= 0 || iotsdk_wasm_module_info(which, text, (uint32_t)length) != length) length = 0;
    text[length] = 0;
    return text;
}

/* The host table, built on first use. Weak: every C file that includes this header defines it,
 * the linker keeps one. */
__attribute__((weak, export_name("iotsdk_host"))) const iotsdk_host *iotsdk_wasm_host(void) {
    static iotsdk_host host;
    if (host.abi == 0) {
        host.size = sizeof host;
        host.module_id = iotsdk_wasm_info(0);
        host.module_version = iotsdk_wasm_info(1);
        host.module_dir = iotsdk_wasm_info(2);
        host.data_dir = iotsdk_wasm_info(3);
        host.step = iotsdk_wasm_info(4);
        host.ready = iotsdk_wasm_table_ready;
        host.heartbeat = iotsdk_wasm_table_heartbeat;
        host.log = iotsdk_wasm_table_log;
        host.should_stop = iotsdk_wasm_table_should_stop;
        host.gpio_request = iotsdk_wasm_table_gpio_request;
        host.i2c_transfer = iotsdk_wasm_table_i2c_transfer;
        host.last_error = iotsdk_wasm_table_last_error;
        host.gpio_request_lines = iotsdk_wasm_table_gpio_request_lines;
        host.gpio_chip_info = iotsdk_wasm_table_gpio_chip_info;
        host.gpio_line_info = iotsdk_wasm_table_gpio_line_info;
        host.storage_quota_bytes = strtoull(iotsdk_wasm_info(6), NULL, 10);
        host.gpio_reconfigure_lines = iotsdk_wasm_table_gpio_reconfigure_lines;
        host.i2c_open = iotsdk_wasm_table_i2c_open;
        host.mqtt_publish = iotsdk_wasm_table_mqtt_publish;
        host.mqtt_subscribe = iotsdk_wasm_table_mqtt_subscribe;
        host.mqtt_unsubscribe = iotsdk_wasm_table_mqtt_unsubscribe;
        host.mqtt_receive = iotsdk_wasm_table_mqtt_receive;
        host.mqtt_message_free = iotsdk_wasm_table_mqtt_message_free;
        host.device_id = iotsdk_wasm_info(5);
        host.abi = IOTSDK_MODULE_ABI;
    }
    return &host;
}
static inline int32_t iotsdk_gpio_get(const iotsdk_host *host, int32_t request) { (void)host; return iotsdk_wasm_gpio_get(request); }
static inline int32_t iotsdk_gpio_set(const iotsdk_host *host, int32_t request, int32_t active) { (void)host; return iotsdk_wasm_gpio_set(request, active); }
static inline int32_t iotsdk_gpio_release(const iotsdk_host *host, int32_t request) { (void)host; return iotsdk_wasm_gpio_release(request); }
static inline int32_t iotsdk_gpio_request_events(const iotsdk_host *host, const char *chip, uint32_t line, uint32_t edges) {
    (void)host;
    return chip == NULL ? -EINVAL : iotsdk_wasm_gpio_request_events(chip, (uint32_t)strlen(chip), line, edges);
}
/* While it waits, the runner calls the module's commands; -ECANCELED once the host asks it to stop. */
static inline int32_t iotsdk_gpio_wait_event(const iotsdk_host *host, int32_t request, int32_t timeout_ms, iotsdk_gpio_event *event) {
    (void)host;
    return iotsdk_wasm_gpio_wait_event(request, timeout_ms, event);
}
/* ---- The module's stores (wasm modules only; a native module opens its own files in data_dir,
 * a Swift one IoTSDK's stores): IoTSDK's key-value store (namespace "default") and time-series
 * store in <data_dir>/module.db, kept and restored with the data directory across updates and
 * rollbacks, and held to the manifest's storageQuotaBytes. Each call returns a negative errno on
 * failure (-EINVAL: a bad argument or a quantity mismatch, -ENOENT: no such key or series,
 * -ENOSPC: the disk or the quota is full, -EIO); last_error says why. */

/* Stores `json` (JSON text: 42, "on", {"min": 18}…; at most 1 MiB) under `key`: 0. */
static inline int32_t iotsdk_kv_set(const iotsdk_host *host, const char *key, const char *json) {
    (void)host;
    return key == NULL || json == NULL ? -EINVAL : iotsdk_wasm_kv_set(key, (uint32_t)strlen(key), json, (uint32_t)strlen(json));
}
/* The JSON text under `key`: its length; copied with a NUL when capacity > length, else nothing
 * is copied (call again with a larger buffer). -ENOENT: no such key. */
static inline int32_t iotsdk_kv_get(const iotsdk_host *host, const char *key, char *buffer, uint32_t capacity) {
    (void)host;
    if (key == NULL) return -EINVAL;
    int32_t length = iotsdk_wasm_kv_get(key, (uint32_t)strlen(key), buffer, capacity > 0 ? capacity - 1 : 0);
    if (length >= 0 && (uint32_t)length < capacity) buffer[length] = 0;
    return length;
}
/* Removes `key`: 1 if it was there, 0 if not. */
static inline int32_t iotsdk_kv_remove(const iotsdk_host *host, const char *key) {
    (void)host;
    return key == NULL ? -EINVAL : iotsdk_wasm_kv_remove(key, (uint32_t)strlen(key));
}
/* The keys that start with `prefix` ("" or NULL: all), sorted, each followed by its NUL: their
 * total length, copied when it fits in `capacity`. */
static inline int32_t iotsdk_kv_keys(const iotsdk_host *host, const char *prefix, char *buffer, uint32_t capacity) {
    (void)host;
    return iotsdk_wasm_kv_keys(prefix, prefix == NULL ? 0 : (uint32_t)strlen(prefix), buffer, capacity);
}
/* A reading of the time-series store. */
typedef struct iotsdk_reading {
    int64_t timestamp_ns;   /* nanoseconds since 1970 (UTC) */
    double value;           /* in the quantity's base unit: K, Pa, %RH… */
} iotsdk_reading;
/* Appends `value` (in the base unit of `quantity`, an IoTSDK quantity such as "Temperature",
 * "Pressure" or "RelativeHumidity") at `timestamp_ns` (0: now) to `series`, which its first
 * append binds to the quantity: 0. A reading at an instant the series has replaces it. */
static inline int32_t iotsdk_ts_append(const iotsdk_host *host, const char *series, const char *quantity, double value, int64_t timestamp_ns) {
    (void)host;
    if (series == NULL || quantity == NULL) return -EINVAL;
    return iotsdk_wasm_ts_append(series, (uint32_t)strlen(series), quantity, (uint32_t)strlen(quantity), value, timestamp_ns);
}
/* Up to `capacity` readings of `series` with from_ns <= timestamp < to_ns, oldest first (newest
 * first when newest_first != 0: capacity 1 gives the latest): their count. */
static inline int32_t iotsdk_ts_query(const iotsdk_host *host, const char *series, const char *quantity, int64_t from_ns, int64_t to_ns,
                                      int32_t newest_first, iotsdk_reading *readings, uint32_t capacity) {
    (void)host;
    if (series == NULL || quantity == NULL) return -EINVAL;
    return iotsdk_wasm_ts_query(series, (uint32_t)strlen(series), quantity, (uint32_t)strlen(quantity), from_ns, to_ns, newest_first, readings, capacity);
}
/* Memory for a command's string argument, which the runner copies in (and frees after the call). */
__attribute__((weak, export_name("iotsdk_alloc"))) void *iotsdk_wasm_alloc(uint32_t size) { return malloc(size); }
__attribute__((weak, export_name("iotsdk_free"))) void iotsdk_wasm_free(void *pointer) { free(pointer); }
#endif

#ifdef __cplusplus
}
#endif

#endif /* IOTSDK_MODULE_H */
