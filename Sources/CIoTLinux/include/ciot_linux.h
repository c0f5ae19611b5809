// CIoTLinux: the only place in the SDK that includes the kernel's uAPI headers.
// Every ioctl number and struct comes from <linux/gpio.h>, <linux/i2c-dev.h> and <linux/i2c.h>;
// nothing here is copied by hand. Each wrapper is a `static inline` with the `ciot_` prefix.
#ifndef CIOT_LINUX_H
#define CIOT_LINUX_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/timex.h>
#include <linux/gpio.h>
#include <linux/i2c.h>
#include <linux/i2c-dev.h>

// MARK: - ioctl with EINTR retried in one place

/// Runs ioctl(fd, request, arg), retrying on EINTR. Returns the ioctl's result; errno is left set on -1.
static inline int ciot_ioctl(int fd, unsigned long request, void *arg) {
    int rc;
    do {
        rc = ioctl(fd, request, arg);
    } while (rc == -1 && errno == EINTR);
    return rc;
}

static inline int ciot_errno(void) { return errno; }

/// A non-blocking, close-on-exec eventfd, used to wake a thread waiting in poll(2).
static inline int ciot_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

// prctl is variadic, which Swift cannot call. Asks the kernel to send `signal` to this process
// when the thread that created it exits (the module runner dies with its host).
static inline int ciot_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0); }

// MARK: - Clock synchronization, adjtimex(2)

/// adjtimex(2) with modes = 0, which only reads: returns the clock state (TIME_OK … TIME_ERROR, or
/// -1 with errno set) and stores the status bits in `*status`.
static inline int ciot_clock_state(int *status) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int rc = adjtimex(&tx);
    *status = tx.status;
    return rc;
}

/// Whether a `ciot_clock_state` result means "not synchronized", as systemd's timedatectl decides:
/// the state is TIME_ERROR or the status has STA_UNSYNC.
static inline int ciot_clock_is_unsynchronized(int state, int status) {
    return state == TIME_ERROR || (status & STA_UNSYNC) != 0;
}

/// adjtimex(ADJ_STATUS): sets or clears STA_UNSYNC, keeping the other status bits (needs
/// CAP_SYS_TIME), as an NTP client does. Clearing also sets the maximum and estimated errors to 0,
/// as a client does when it synchronizes: the kernel grows the maximum error by 500 us a second
/// and sets STA_UNSYNC again once it passes 16 s, which it already does after clock_settime.
/// Returns the clock state, or -1 with errno set.
static inline int ciot_clock_set_unsynchronized(int unsynchronized) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    if (adjtimex(&tx) == -1) return -1;
    int status = unsynchronized ? (tx.status | STA_UNSYNC) : (tx.status & ~STA_UNSYNC);
    memset(&tx, 0, sizeof tx);
    tx.modes = unsynchronized ? ADJ_STATUS : (ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR);
    tx.status = status;
    return adjtimex(&tx);
}

// MARK: - GPIO character device, uAPI v2

static const uint32_t CIOT_GPIO_MAX_NAME_SIZE = GPIO_MAX_NAME_SIZE;
static const uint32_t CIOT_GPIO_V2_LINES_MAX = GPIO_V2_LINES_MAX;
static const uint32_t CIOT_GPIO_V2_LINE_NUM_ATTRS_MAX = GPIO_V2_LINE_NUM_ATTRS_MAX;

static const uint64_t CIOT_GPIO_V2_LINE_FLAG_USED = GPIO_V2_LINE_FLAG_USED;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW = GPIO_V2_LINE_FLAG_ACTIVE_LOW;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_INPUT = GPIO_V2_LINE_FLAG_INPUT;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_OUTPUT = GPIO_V2_LINE_FLAG_OUTPUT;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING = GPIO_V2_LINE_FLAG_EDGE_RISING;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING = GPIO_V2_LINE_FLAG_EDGE_FALLING;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN = GPIO_V2_LINE_FLAG_OPEN_DRAIN;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_OPEN_SOURCE = GPIO_V2_LINE_FLAG_OPEN_SOURCE;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP = GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN = GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_BIAS_DISABLED = GPIO_V2_LINE_FLAG_BIAS_DISABLED;
static const uint64_t CIOT_GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME = GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME;

static const uint32_t CIOT_GPIO_V2_LINE_ATTR_ID_FLAGS = GPIO_V2_LINE_ATTR_ID_FLAGS;
static const uint32_t CIOT_GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
static const uint32_t CIOT_GPIO_V2_LINE_ATTR_ID_DEBOUNCE = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;

static const uint32_t CIOT_GPIO_V2_LINE_EVENT_RISING_EDGE = GPIO_V2_LINE_EVENT_RISING_EDGE;
static const uint32_t CIOT_GPIO_V2_LINE_EVENT_FALLING_EDGE = GPIO_V2_LINE_EVENT_FALLING_EDGE;

typedef struct gpiochip_info ciot_gpiochip_info;
typedef struct gpio_v2_line_info ciot_gpio_v2_line_info;
typedef struct gpio_v2_line_request ciot_gpio_v2_line_request;
typedef struct gpio_v2_line_config ciot_gpio_v2_line_config;
typedef struct gpio_v2_line_values ciot_gpio_v2_line_values;
typedef struct gpio_v2_line_event ciot_gpio_v2_line_event;

static inline int ciot_gpio_get_chipinfo(int fd, struct gpiochip_info *info) {
    memset(info, 0, sizeof(*info));
    return ciot_ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, info);
}

static inline int ciot_gpio_v2_get_lineinfo(int fd, uint32_t offset, struct gpio_v2_line_info *info) {
    memset(info, 0, sizeof(*info));
    info->offset = offset;
    return ciot_ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, info);
}

/// Attribute `index` of a line info (index < num_attrs); returns its id and fills the one value it carries.
static inline uint32_t ciot_gpio_v2_lineinfo_attr(const struct gpio_v2_line_info *info, uint32_t index,
                                                  uint64_t *flags, uint64_t *values, uint32_t *debounce_us) {
    if (index >= GPIO_V2_LINE_NUM_ATTRS_MAX) return 0;
    const struct gpio_v2_line_attribute *a = &info->attrs[index];
    *flags = a->flags;
    *values = a->values;
    *debounce_us = a->debounce_period_us;
    return a->id;
}

/// Clears `config` (flags 0, no attributes).
static inline void ciot_gpio_v2_config_init(struct gpio_v2_line_config *config) {
    memset(config, 0, sizeof(*config));
}

/// Appends an attribute that applies to the lines whose request indexes are set in `mask`.
/// Returns -1 (errno E2BIG) when all GPIO_V2_LINE_NUM_ATTRS_MAX slots are taken.
static inline int ciot_gpio_v2_config_add_flags(struct gpio_v2_line_config *c, uint64_t flags, uint64_t mask) {
    if (c->num_attrs >= GPIO_V2_LINE_NUM_ATTRS_MAX) { errno = E2BIG; return -1; }
    struct gpio_v2_line_config_attribute *a = &c->attrs[c->num_attrs++];
    a->attr.id = GPIO_V2_LINE_ATTR_ID_FLAGS;
    a->attr.flags = flags;
    a->mask = mask;
    return 0;
}

static inline int ciot_gpio_v2_config_add_output_values(struct gpio_v2_line_config *c, uint64_t values, uint64_t mask) {
    if (c->num_attrs >= GPIO_V2_LINE_NUM_ATTRS_MAX) { errno = E2BIG; return -1; }
    struct gpio_v2_line_config_attribute *a = &c->attrs[c->num_attrs++];
    a->attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
    a->attr.values = values;
    a->mask = mask;
    return 0;
}

static inline int ciot_gpio_v2_config_add_debounce(struct gpio_v2_line_config *c, uint32_t period_us, uint64_t mask) {
    if (c->num_attrs >= GPIO_V2_LINE_NUM_ATTRS_MAX) { errno = E2BIG; return -1; }
    struct gpio_v2_line_config_attribute *a = &c->attrs[c->num_attrs++];
    a->attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
    a->attr.debounce_period_us = period_us;
    a->mask = mask;
    return 0;
}

/// The flags that apply to request line `index` under `c`, as the kernel resolves them: the first
/// flags attribute whose mask covers the line, else the config's default flags. 0 past the
/// attribute slots' end is never read: `num_attrs` is clamped to GPIO_V2_LINE_NUM_ATTRS_MAX.
static inline uint64_t ciot_gpio_v2_config_line_flags(const struct gpio_v2_line_config *c, uint32_t index) {
    uint32_t count = c->num_attrs < GPIO_V2_LINE_NUM_ATTRS_MAX ? c->num_attrs : GPIO_V2_LINE_NUM_ATTRS_MAX;
    for (uint32_t i = 0; i < count && index < 64; i++) {
        const struct gpio_v2_line_config_attribute *a = &c->attrs[i];
        if (a->attr.id == GPIO_V2_LINE_ATTR_ID_FLAGS && (a->mask & (1ULL << index))) return a->attr.flags;
    }
    return c->flags;
}

/// The debounce period (µs) the config gives request line `index`, 0 for none.
static inline uint32_t ciot_gpio_v2_config_line_debounce(const struct gpio_v2_line_config *c, uint32_t index) {
    uint32_t count = c->num_attrs < GPIO_V2_LINE_NUM_ATTRS_MAX ? c->num_attrs : GPIO_V2_LINE_NUM_ATTRS_MAX;
    for (uint32_t i = 0; i < count && index < 64; i++) {
        const struct gpio_v2_line_config_attribute *a = &c->attrs[i];
        if (a->attr.id == GPIO_V2_LINE_ATTR_ID_DEBOUNCE && (a->mask & (1ULL << index))) return a->attr.debounce_period_us;
    }
    return 0;
}

/// The initial output value (0 or 1) the config gives request line `index`: the first output
/// values attribute that covers it, else 0.
static inline int ciot_gpio_v2_config_line_output_value(const struct gpio_v2_line_config *c, uint32_t index) {
    uint32_t count = c->num_attrs < GPIO_V2_LINE_NUM_ATTRS_MAX ? c->num_attrs : GPIO_V2_LINE_NUM_ATTRS_MAX;
    for (uint32_t i = 0; i < count && index < 64; i++) {
        const struct gpio_v2_line_config_attribute *a = &c->attrs[i];
        if (a->attr.id == GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES && (a->mask & (1ULL << index))) return (a->attr.values >> index) & 1;
    }
    return 0;
}

/// Requests `count` lines of the chip open on `chip_fd`. On success returns 0 and stores the
/// line request's file descriptor in `*line_fd`.
static inline int ciot_gpio_v2_request_lines(int chip_fd, const uint32_t *offsets, uint32_t count,
                                             const char *consumer, const struct gpio_v2_line_config *config,
                                             uint32_t event_buffer_size, int *line_fd) {
    struct gpio_v2_line_request req;
    if (count == 0 || count > GPIO_V2_LINES_MAX) { errno = EINVAL; return -1; }
    memset(&req, 0, sizeof(req));
    for (uint32_t i = 0; i < count; i++) req.offsets[i] = offsets[i];
    req.num_lines = count;
    strncpy(req.consumer, consumer, GPIO_MAX_NAME_SIZE - 1);
    req.config = *config;
    req.event_buffer_size = event_buffer_size;
    int rc = ciot_ioctl(chip_fd, GPIO_V2_GET_LINE_IOCTL, &req);
    if (rc == 0) *line_fd = req.fd;
    return rc;
}

static inline int ciot_gpio_v2_line_set_config(int line_fd, struct gpio_v2_line_config *config) {
    return ciot_ioctl(line_fd, GPIO_V2_LINE_SET_CONFIG_IOCTL, config);
}

/// Reads the lines selected by `mask` (bit i = request index i) into `*bits`.
static inline int ciot_gpio_v2_line_get_values(int line_fd, uint64_t mask, uint64_t *bits) {
    struct gpio_v2_line_values v = { .bits = 0, .mask = mask };
    int rc = ciot_ioctl(line_fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v);
    if (rc == 0) *bits = v.bits;
    return rc;
}

/// Drives the lines selected by `mask` to `bits` (bit i = request index i).
static inline int ciot_gpio_v2_line_set_values(int line_fd, uint64_t bits, uint64_t mask) {
    struct gpio_v2_line_values v = { .bits = bits, .mask = mask };
    return ciot_ioctl(line_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v);
}

static inline uint32_t ciot_gpio_v2_event_size(void) { return (uint32_t)sizeof(struct gpio_v2_line_event); }

// MARK: - I2C (/dev/i2c-N)

static const uint16_t CIOT_I2C_M_RD = I2C_M_RD;
static const uint16_t CIOT_I2C_M_TEN = I2C_M_TEN;
static const uint32_t CIOT_I2C_RDWR_IOCTL_MAX_MSGS = I2C_RDWR_IOCTL_MAX_MSGS;
static const uint32_t CIOT_I2C_SMBUS_BLOCK_MAX = I2C_SMBUS_BLOCK_MAX;

static const unsigned long CIOT_I2C_FUNC_I2C = I2C_FUNC_I2C;
static const unsigned long CIOT_I2C_FUNC_10BIT_ADDR = I2C_FUNC_10BIT_ADDR;
static const unsigned long CIOT_I2C_FUNC_PROTOCOL_MANGLING = I2C_FUNC_PROTOCOL_MANGLING;
static const unsigned long CIOT_I2C_FUNC_SMBUS_PEC = I2C_FUNC_SMBUS_PEC;
static const unsigned long CIOT_I2C_FUNC_NOSTART = I2C_FUNC_NOSTART;
static const unsigned long CIOT_I2C_FUNC_SMBUS_QUICK = I2C_FUNC_SMBUS_QUICK;
static const unsigned long CIOT_I2C_FUNC_SMBUS_READ_BYTE = I2C_FUNC_SMBUS_READ_BYTE;
static const unsigned long CIOT_I2C_FUNC_SMBUS_WRITE_BYTE = I2C_FUNC_SMBUS_WRITE_BYTE;
static const unsigned long CIOT_I2C_FUNC_SMBUS_READ_BYTE_DATA = I2C_FUNC_SMBUS_READ_BYTE_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_WRITE_BYTE_DATA = I2C_FUNC_SMBUS_WRITE_BYTE_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_READ_WORD_DATA = I2C_FUNC_SMBUS_READ_WORD_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_WRITE_WORD_DATA = I2C_FUNC_SMBUS_WRITE_WORD_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_READ_BLOCK_DATA = I2C_FUNC_SMBUS_READ_BLOCK_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_WRITE_BLOCK_DATA = I2C_FUNC_SMBUS_WRITE_BLOCK_DATA;
static const unsigned long CIOT_I2C_FUNC_SMBUS_READ_I2C_BLOCK = I2C_FUNC_SMBUS_READ_I2C_BLOCK;
static const unsigned long CIOT_I2C_FUNC_SMBUS_WRITE_I2C_BLOCK = I2C_FUNC_SMBUS_WRITE_I2C_BLOCK;

static inline int ciot_i2c_funcs(int fd, unsigned long *funcs) {
    return ciot_ioctl(fd, I2C_FUNCS, funcs);
}

/// Selects the target address for the following read/write/SMBus calls. With `force`, also when a
/// kernel driver has claimed it (I2C_SLAVE_FORCE).
static inline int ciot_i2c_set_address(int fd, uint16_t address, int force) {
    int rc;
    do {
        rc = ioctl(fd, force ? I2C_SLAVE_FORCE : I2C_SLAVE, (unsigned long)address);
    } while (rc == -1 && errno == EINTR);
    return rc;
}

/// One combined transfer (I2C_RDWR): `count` messages with a repeated start between them and one stop.
/// Message i goes to `address` with `flags[i]` (I2C_M_RD for reads), `lengths[i]` bytes at `buffers[i]`.
static inline int ciot_i2c_rdwr(int fd, uint16_t address, uint32_t count, const uint16_t *flags,
                                const uint16_t *lengths, uint8_t *const *buffers) {
    struct i2c_msg msgs[I2C_RDWR_IOCTL_MAX_MSGS];
    if (count == 0 || count > I2C_RDWR_IOCTL_MAX_MSGS) { errno = EINVAL; return -1; }
    for (uint32_t i = 0; i < count; i++) {
        msgs[i].addr = address;
        msgs[i].flags = flags[i];
        msgs[i].len = lengths[i];
        msgs[i].buf = buffers[i];
    }
    struct i2c_rdwr_ioctl_data data = { .msgs = msgs, .nmsgs = count };
    return ciot_ioctl(fd, I2C_RDWR, &data);
}

static inline int ciot_i2c_smbus_access(int fd, uint8_t read_write, uint8_t command, uint32_t size,
                                        union i2c_smbus_data *data) {
    struct i2c_smbus_ioctl_data args = { .read_write = read_write, .command = command, .size = size, .data = data };
    return ciot_ioctl(fd, I2C_SMBUS, &args);
}

static inline int ciot_i2c_smbus_quick(int fd, uint8_t read_write) {
    return ciot_i2c_smbus_access(fd, read_write, 0, I2C_SMBUS_QUICK, NULL);
}

/// SMBus receive byte; returns the byte (0-255) or -1.
static inline int ciot_i2c_smbus_read_byte(int fd) {
    union i2c_smbus_data d;
    if (ciot_i2c_smbus_access(fd, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d) == -1) return -1;
    return d.byte;
}

static inline int ciot_i2c_smbus_write_byte(int fd, uint8_t value) {
    return ciot_i2c_smbus_access(fd, I2C_SMBUS_WRITE, value, I2C_SMBUS_BYTE, NULL);
}

/// SMBus read byte data; returns the byte (0-255) or -1.
static inline int ciot_i2c_smbus_read_byte_data(int fd, uint8_t command) {
    union i2c_smbus_data d;
    if (ciot_i2c_smbus_access(fd, I2C_SMBUS_READ, command, I2C_SMBUS_BYTE_DATA, &d) == -1) return -1;
    return d.byte;
}

static inline int ciot_i2c_smbus_write_byte_data(int fd, uint8_t command, uint8_t value) {
    union i2c_smbus_data d;
    d.byte = value;
    return ciot_i2c_smbus_access(fd, I2C_SMBUS_WRITE, command, I2C_SMBUS_BYTE_DATA, &d);
}

/// SMBus read word data (little-endian on the wire, as SMBus defines); returns 0-65535 or -1.
static inline int ciot_i2c_smbus_read_word_data(int fd, uint8_t command) {
    union i2c_smbus_data d;
    if (ciot_i2c_smbus_access(fd, I2C_SMBUS_READ, command, I2C_SMBUS_WORD_DATA, &d) == -1) return -1;
    return d.word;
}

static inline int ciot_i2c_smbus_write_word_data(int fd, uint8_t command, uint16_t value) {
    union i2c_smbus_data d;
    d.word = value;
    return ciot_i2c_smbus_access(fd, I2C_SMBUS_WRITE, command, I2C_SMBUS_WORD_DATA, &d);
}

/// SMBus "I2C block" read of `length` (1-32) bytes starting at `command`; returns the count read or -1.
static inline int ciot_i2c_smbus_read_i2c_block_data(int fd, uint8_t command, uint8_t length, uint8_t *values) {
    union i2c_smbus_data d;
    if (length == 0 || length > I2C_SMBUS_BLOCK_MAX) { errno = EINVAL; return -1; }
    d.block[0] = length;
    if (ciot_i2c_smbus_access(fd, I2C_SMBUS_READ, command, I2C_SMBUS_I2C_BLOCK_DATA, &d) == -1) return -1;
    uint8_t n = d.block[0] <= length ? d.block[0] : length;
    memcpy(values, &d.block[1], n);
    return n;
}

static inline int ciot_i2c_smbus_write_i2c_block_data(int fd, uint8_t command, uint8_t length, const uint8_t *values) {
    union i2c_smbus_data d;
    if (length == 0 || length > I2C_SMBUS_BLOCK_MAX) { errno = EINVAL; return -1; }
    d.block[0] = length;
    memcpy(&d.block[1], values, length);
    return ciot_i2c_smbus_access(fd, I2C_SMBUS_WRITE, command, I2C_SMBUS_I2C_BLOCK_DATA, &d);
}

#endif
