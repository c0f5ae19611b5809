// Plain C loops that issue the same system calls as the SDK's hot paths, so that the benchmark
// can report SDK/C ratios measured on the same lines in the same run.
#ifndef CIOT_BENCH_H
#define CIOT_BENCH_H

#include <stdint.h>

/// Requests one line of `chip_path` as an output (uAPI v2); returns the line fd or -1.
int ciot_bench_request_output(const char *chip_path, uint32_t offset);

/// Toggles line 0 of a v2 line request `iterations` times with GPIO_V2_LINE_SET_VALUES_IOCTL.
int ciot_bench_chardev_set(int line_fd, uint64_t iterations);

/// Writes "1"/"0" alternately to an open sysfs `value` file with pwrite, `iterations` times.
int ciot_bench_sysfs_write(int value_fd, uint64_t iterations);

/// Opens /dev/i2c-N and selects `address`; returns the fd or -1.
int ciot_bench_open_i2c(const char *path, uint16_t address);

/// Reads register `reg` with the SMBus read-byte-data ioctl `iterations` times.
int ciot_bench_smbus_read(int fd, uint8_t reg, uint64_t iterations);

#endif
