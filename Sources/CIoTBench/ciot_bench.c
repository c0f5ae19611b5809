#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include "ciot_bench.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/gpio.h>
#include <linux/i2c.h>
#include <linux/i2c-dev.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "ciot_seccomp.h"

int ciot_bench_request_output(const char *chip_path, uint32_t offset) {
    int chip = open(chip_path, O_RDWR | O_CLOEXEC);
    if (chip < 0) return -1;
    struct gpio_v2_line_request req;
    memset(&req, 0, sizeof(req));
    req.offsets[0] = offset;
    req.num_lines = 1;
    strncpy(req.consumer, "c-bench", sizeof(req.consumer) - 1);
    req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
    int rc = ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req);
    close(chip);
    return rc < 0 ? -1 : req.fd;
}

int ciot_bench_chardev_set(int line_fd, uint64_t iterations) {
    struct gpio_v2_line_values values;
    for (uint64_t i = 0; i < iterations; i++) {
        values.bits = i & 1;
        values.mask = 1;
        if (ioctl(line_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) < 0) return -1;
    }
    return 0;
}

int ciot_bench_sysfs_write(int value_fd, uint64_t iterations) {
    for (uint64_t i = 0; i < iterations; i++) {
        const char *text = (i & 1) ? "1" : "0";
        if (pwrite(value_fd, text, 1, 0) != 1) return -1;
    }
    return 0;
}

int ciot_bench_open_i2c(const char *path, uint16_t address) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    if (ioctl(fd, I2C_SLAVE, (unsigned long)address) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int ciot_bench_smbus_read(int fd, uint8_t reg, uint64_t iterations) {
    for (uint64_t i = 0; i < iterations; i++) {
        union i2c_smbus_data data;
        struct i2c_smbus_ioctl_data args = { .read_write = I2C_SMBUS_READ, .command = reg, .size = I2C_SMBUS_BYTE_DATA, .data = &data };
        if (ioctl(fd, I2C_SMBUS, &args) < 0) return -1;
    }
    return 0;
}

/// The least filter that the kernel cannot skip (Linux 5.11+ skips filters whose answer does not
/// depend on the arguments): it loads one and allows everything.
static int install_least_filter(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = { 2, code };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program);
}

int ciot_bench_smbus_read_confined_child(int bus_fd, uint16_t address, uint8_t reg, uint64_t iterations, int least, uint64_t *nanoseconds) {
    int result_pipe[2];
    if (pipe(result_pipe) != 0) return -1;
    pid_t child = fork();
    if (child < 0) { close(result_pipe[0]); close(result_pipe[1]); return -1; }
    if (child == 0) {
        uint64_t result = UINT64_MAX;
        ciot_seccomp_options options = { CIOT_SECCOMP_DENY_ERRNO, &address, 1 };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) == 0 && (least ? install_least_filter() : ciot_seccomp_install(&options, NULL)) == 0
            && ioctl(bus_fd, I2C_SLAVE, (unsigned long)address) == 0) {
            struct timespec start, end;
            clock_gettime(CLOCK_MONOTONIC, &start);
            int rc = ciot_bench_smbus_read(bus_fd, reg, iterations);
            clock_gettime(CLOCK_MONOTONIC, &end);
            if (rc == 0) result = (uint64_t)(end.tv_sec - start.tv_sec) * 1000000000u + (uint64_t)(end.tv_nsec - start.tv_nsec);
        }
        _exit(write(result_pipe[1], &result, sizeof result) == sizeof result ? 0 : 1);
    }
    close(result_pipe[1]);
    uint64_t result = UINT64_MAX;
    int ok = read(result_pipe[0], &result, sizeof result) == sizeof result;
    close(result_pipe[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (!ok || result == UINT64_MAX) return -1;
    *nanoseconds = result;
    return 0;
}

int32_t ciot_bench_add_i32(int32_t a, int32_t b) { return a + b; }

struct ciot_round_trip_server { int fd; int iterations; };

static void *ciot_round_trip_serve(void *argument) {
    struct ciot_round_trip_server *server = argument;
    char buffer[64];
    for (int i = 0; i < server->iterations; i++) {
        if (recv(server->fd, buffer, sizeof buffer, 0) <= 0) break;
        if (send(server->fd, buffer, 16, MSG_NOSIGNAL) < 0) break;
    }
    return NULL;
}

double ciot_bench_seqpacket_round_trip(int iterations) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
    struct ciot_round_trip_server server = { pair[1], iterations };
    pthread_t thread;
    if (pthread_create(&thread, NULL, ciot_round_trip_serve, &server) != 0) { close(pair[0]); close(pair[1]); return -1; }
    char buffer[64] = {0};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < iterations; i++) {
        if (send(pair[0], buffer, 40, MSG_NOSIGNAL) < 0 || recv(pair[0], buffer, sizeof buffer, 0) <= 0) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(thread, NULL);
    close(pair[0]);
    close(pair[1]);
    return ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / iterations;
}

/* A one-byte message with room for one descriptor (SCM_RIGHTS). */
static void one_descriptor_message(struct msghdr *message, struct iovec *io, char *byte, char *control, size_t size) {
    memset(control, 0, size);
    io->iov_base = byte;
    io->iov_len = 1;
    memset(message, 0, sizeof *message);
    message->msg_iov = io;
    message->msg_iovlen = 1;
    message->msg_control = control;
    message->msg_controllen = size;
}

/* The set loop of ciot_bench_chardev_set run by another process, on a line request descriptor
 * handed to it with SCM_RIGHTS, as the plugin host hands a granted line to a module's runner.
 * The child times its own loop (CLOCK_MONOTONIC: instructions under QEMU -icount) and writes the
 * nanoseconds back. Only async-signal-safe calls happen in the child, so forking a multithreaded
 * process is safe. Returns 0 and stores the loop's nanoseconds in *nanoseconds, or -1. */
int ciot_bench_chardev_set_in_child(int line_fd, uint64_t iterations, uint64_t *nanoseconds) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
    pid_t child = fork();
    if (child < 0) { close(pair[0]); close(pair[1]); return -1; }
    if (child == 0) {
        char byte;
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec io;
        struct msghdr message;
        one_descriptor_message(&message, &io, &byte, control, sizeof control);
        uint64_t result = UINT64_MAX;
        if (recvmsg(pair[1], &message, 0) == 1) {
            struct cmsghdr *header = CMSG_FIRSTHDR(&message);
            if (header && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
                int fd;
                memcpy(&fd, CMSG_DATA(header), sizeof fd);
                struct timespec start, end;
                clock_gettime(CLOCK_MONOTONIC, &start);
                int rc = ciot_bench_chardev_set(fd, iterations);
                clock_gettime(CLOCK_MONOTONIC, &end);
                if (rc == 0) result = (uint64_t)(end.tv_sec - start.tv_sec) * 1000000000u + (uint64_t)(end.tv_nsec - start.tv_nsec);
            }
        }
        _exit(write(pair[1], &result, sizeof result) == sizeof result ? 0 : 1);
    }
    close(pair[1]);
    char byte = 'G';
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec io;
    struct msghdr message;
    one_descriptor_message(&message, &io, &byte, control, sizeof control);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &line_fd, sizeof line_fd);
    uint64_t result = UINT64_MAX;
    int ok = sendmsg(pair[0], &message, 0) == 1 && read(pair[0], &result, sizeof result) == sizeof result;
    close(pair[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {}
    if (!ok || result == UINT64_MAX || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    *nanoseconds = result;
    return 0;
}
