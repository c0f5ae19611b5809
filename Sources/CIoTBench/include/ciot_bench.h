// Plain C loops that issue the same system calls as the SDK's hot paths, so that the benchmark
// can report SDK/C ratios measured on the same lines in the same run.
#ifndef CIOT_BENCH_H
#define CIOT_BENCH_H

#include <stdint.h>

/// Requests one line of `chip_path` as an output (uAPI v2); returns the line fd or -1.
int ciot_bench_request_output(const char *chip_path, uint32_t offset);

/// Toggles line 0 of a v2 line request `iterations` times with GPIO_V2_LINE_SET_VALUES_IOCTL.
int ciot_bench_chardev_set(int line_fd, uint64_t iterations);
/* The same loop in a forked child, on the descriptor handed to it with SCM_RIGHTS; its time in *nanoseconds. */
int ciot_bench_chardev_set_in_child(int line_fd, uint64_t iterations, uint64_t *nanoseconds);

/// Writes "1"/"0" alternately to an open sysfs `value` file with pwrite, `iterations` times.
int ciot_bench_sysfs_write(int value_fd, uint64_t iterations);

/// Opens /dev/i2c-N and selects `address`; returns the fd or -1.
int ciot_bench_open_i2c(const char *path, uint16_t address);

/// Reads register `reg` with the SMBus read-byte-data ioctl `iterations` times.
int ciot_bench_smbus_read(int fd, uint8_t reg, uint64_t iterations);

/// The same loop in a child process that holds `bus_fd` as a sandboxed module holds the bus
/// descriptor the plugin host hands over: under the sandbox's syscall filter (no_new_privs, then
/// ciot_seccomp_install allowing `address` only), after I2C_SLAVE `address`. The loop's time in
/// `*nanoseconds`. With `least` the child installs instead the least filter the kernel runs on
/// every call (it loads an argument and allows everything): the cost any filter that checks
/// arguments has. 0, or -1.
int ciot_bench_smbus_read_confined_child(int bus_fd, uint16_t address, uint8_t reg, uint64_t iterations, int least, uint64_t *nanoseconds);

// MARK: Storage (sdk-bench storage): the time-series store's inserts and queries in plain C.

/// A plain SQLite connection for the storage benchmark (opaque).
typedef struct ciot_bench_storage ciot_bench_storage;

/// Creates a new database at `path` laid out like `schema_from` (an SDK database): the same
/// page size and the same `iotsdk_ts_*` tables and indexes, copied from its sqlite_master; then
/// WAL, synchronous FULL (or NORMAL when `synchronous_full` is 0) and foreign_keys, as the SDK's
/// Database sets them. Returns NULL and a message in `error` on failure.
ciot_bench_storage *ciot_bench_storage_open(const char *path, const char *schema_from, int synchronous_full,
                                            char *error, int error_size);

/// Inserts `count` points of `series_id` in one transaction (BEGIN IMMEDIATE ... COMMIT) with one
/// prepared INSERT OR IGNORE, as TimeSeriesStore.append(batch) does. Returns 0 or an SQLite code.
int ciot_bench_storage_insert(ciot_bench_storage *storage, int64_t series_id, const int64_t *t,
                              const double *v, int64_t count);

/// Reads the points of `series_id` with from <= t <= to_inclusive in time order; returns the
/// row count (their values summed into `sum`) or -1.
int64_t ciot_bench_storage_range(ciot_bench_storage *storage, int64_t series_id, int64_t from,
                                 int64_t to_inclusive, double *sum);

/// Reads the newest point of `series_id`; returns 1 (found), 0 (none) or -1.
int ciot_bench_storage_latest(ciot_bench_storage *storage, int64_t series_id, int64_t *t, double *v);

/// SQLite's message for the last failure.
const char *ciot_bench_storage_error(ciot_bench_storage *storage);

/// Closes the connection and frees `storage`.
void ciot_bench_storage_close(ciot_bench_storage *storage);

/// A trivial C function for the libffi command-call benchmark (sdk-bench host).
int32_t ciot_bench_add_i32(int32_t a, int32_t b);

/// The platform's floor for the broker's IPC: `iterations` round trips of a 40-byte request and a
/// 16-byte reply over an AF_UNIX SOCK_SEQPACKET socketpair between two threads, in plain C.
/// Returns nanoseconds per round trip, or -1 on error.
double ciot_bench_seqpacket_round_trip(int iterations);

#ifdef __linux__
#include <sys/prctl.h>
/// prctl is variadic, which Swift cannot call. Makes this process a child subreaper (on != 0):
/// descendants orphaned by their parent are re-parented to it and it waits for them. Returns 0,
/// or -1 and errno.
static inline int ciot_bench_set_child_subreaper(int on) {
    return prctl(PR_SET_CHILD_SUBREAPER, (unsigned long)(on != 0), 0UL, 0UL, 0UL);
}
#endif

/// Publishes `count` copies of `payload` to `topic` at QoS 1 through libmosquitto (loaded as the
/// SDK loads it), at most `window` awaiting their PUBACK, on this thread; `*nanoseconds` from the
/// CONNACK to the last PUBACK. 0, or -1 (errno ENOSYS: libmosquitto missing).
int ciot_bench_mqtt_publish(const char *host, int port, const char *client_id, const char *topic,
                            const void *payload, int payload_length, int count, int window, uint64_t *nanoseconds);

#endif
