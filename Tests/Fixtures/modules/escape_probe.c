/*
 * escape_probe.c: a module that tries, as an attacker would, to get out of its sandbox
 * (Tests/PluginHostTests/SyscallFilterTests.swift; in the lab, Sources/iotsdk-lab/RunnerLabTests.swift).
 * Compiled into libtestmodule.so with testmodule.c; everything here is static or prefixed
 * `escape_`.
 *
 * hook escape_probe: tries every escape below and writes `name=result` lines into
 * <data_dir>/escapes.txt, where result is `ok` (it worked), the errno name that stopped it, or
 * `skipped`. Returns 0. <module_dir>/escape-targets may give, one `key=value` a line:
 *   other_data=PATH   another module's data directory on the host
 *   port=N            a TCP port the host listens on at 127.0.0.1
 *   i2c_declared=0xNN an I2C address the manifest declares (I2C_SLAVE with it is not filtered)
 *   i2c_bus=N         a bus the manifest declares with i2c_declared: the probe opens it through
 *                     the host (i2c_open), reads register 0xD0 of i2c_declared on the descriptor,
 *                     and tries an undeclared address, I2C_RDWR and I2C_TENBIT on it
 *   gpio_chip=NAME, gpio_input=N  a line the manifest declares as an input: the probe requests it
 *                     through the host, tries to make it an output with the ioctl and through the
 *                     host, then sets a pull-up and both edges on it through the host
 */
#include "iotsdk_module.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static const char *escape_errno(int code) {
    switch (code) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case EBADF: return "EBADF";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ESRCH: return "ESRCH";
    case EFAULT: return "EFAULT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(code);
    }
}

/* `ok` if rc >= 0, else the errno's name. */
static const char *escape_result(long rc) { return rc >= 0 ? "ok" : escape_errno(errno); }

static void escape_target(const iotsdk_host *host, const char *key, char *out, size_t size) {
    char path[4096], line[4096];
    out[0] = 0;
    snprintf(path, sizeof path, "%s/escape-targets", host->module_dir);
    FILE *file = fopen(path, "r");
    if (!file) return;
    size_t length = strlen(key);
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, key, length) == 0 && line[length] == '=') {
            line[strcspn(line, "\r\n")] = 0;
            snprintf(out, size, "%s", line + length + 1);
        }
    }
    fclose(file);
}

/* clone(2) with `flags` (and SIGCHLD); the child exits at once. */
static const char *escape_clone(unsigned long flags) {
    long child = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (child == 0) _exit(0);
    if (child < 0) return escape_errno(errno);
    waitpid((pid_t)child, NULL, 0);
    return "ok";
}

/* Creates <data_dir>/<name> with mode 0755, then tries `how` to make it setuid. */
static const char *escape_setuid(const iotsdk_host *host, const char *name, const char *how) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", host->data_dir, name);
    unlink(path);
    long rc;
    if (strcmp(how, "open") == 0) {
        rc = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 04755);
        if (rc >= 0) close((int)rc);
    } else if (strcmp(how, "mknod") == 0) {
        rc = mknod(path, S_IFREG | 04755, 0);
    } else {
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
        if (fd < 0) return escape_errno(errno);
        if (strcmp(how, "fchmod-setgid") == 0) {
            rc = fchmod(fd, 02755);
        } else if (strcmp(how, "fchmodat") == 0) {
            rc = fchmodat(AT_FDCWD, path, 04755, 0);
        } else {
            rc = chmod(path, 04755);
        }
        close(fd);
    }
    if (rc < 0) return escape_errno(errno);
    struct stat info;
    /* The call worked: only a file that really is setuid or setgid now counts as an escape. */
    return stat(path, &info) == 0 && (info.st_mode & (S_ISUID | S_ISGID)) ? "ok" : "no-bit";
}

static const char *escape_ioctl(unsigned long request, unsigned long argument) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return escape_errno(errno);
    long rc = syscall(SYS_ioctl, fd, request, argument);
    int saved = errno;
    close(fd);
    errno = saved;
    return escape_result(rc);
}

EXPORT int32_t escape_probe(const iotsdk_host *host) {
    char path[4096], target[4096];
    snprintf(path, sizeof path, "%s/escapes.txt", host->data_dir);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "escape_probe: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }

    /* 1. User namespaces, which give back every capability inside them. */
    fprintf(out, "unshare_user=%s\n", escape_result(syscall(SYS_unshare, CLONE_NEWUSER)));
    fprintf(out, "unshare_user_mount=%s\n", escape_result(syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS)));
    fprintf(out, "clone_user=%s\n", escape_clone(CLONE_NEWUSER));
#if defined(__LP64__)
    /* The kernel reads only the low 32 bits of the flags: high bits must not hide the flag. */
    fprintf(out, "clone_user_high_bits=%s\n", escape_clone((1UL << 32) | CLONE_NEWUSER));
#else
    fprintf(out, "clone_user_high_bits=skipped\n");
#endif
#ifdef SYS_clone3
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) _exit(0);
    if (child > 0) waitpid((pid_t)child, NULL, 0);
    fprintf(out, "clone3_user=%s\n", escape_result(child));
#endif

    /* 2. The kernel keyring. */
    fprintf(out, "add_key=%s\n", escape_result(syscall(SYS_add_key, "user", "escape", "secret", 6, -2 /* KEY_SPEC_PROCESS_KEYRING */)));
    fprintf(out, "keyctl=%s\n", escape_result(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0)));

    /* 3. A setuid or setgid file left in /data, which is the host's <state>/modules/<id>/data. */
    fprintf(out, "setuid_chmod=%s\n", escape_setuid(host, "escape-chmod", "chmod"));
    fprintf(out, "setuid_fchmodat=%s\n", escape_setuid(host, "escape-fchmodat", "fchmodat"));
    fprintf(out, "setgid_fchmod=%s\n", escape_setuid(host, "escape-fchmod", "fchmod-setgid"));
    fprintf(out, "setuid_open=%s\n", escape_setuid(host, "escape-open", "open"));
    fprintf(out, "setuid_mknod=%s\n", escape_setuid(host, "escape-mknod", "mknod"));

    /* Mounts, ptrace, bpf, perf, raw sockets, kernel modules, kexec and the rest. */
    fprintf(out, "mount=%s\n", escape_result(mount("none", "/tmp", "tmpfs", 0, NULL)));
    fprintf(out, "umount=%s\n", escape_result(umount2("/data", MNT_DETACH)));
    fprintf(out, "pivot_root=%s\n", escape_result(syscall(SYS_pivot_root, "/tmp", "/tmp")));
    fprintf(out, "chroot=%s\n", escape_result(chroot("/tmp")));
    fprintf(out, "setns=%s\n", escape_result(syscall(SYS_setns, -1, 0)));
    fprintf(out, "ptrace_traceme=%s\n", escape_result(ptrace(PTRACE_TRACEME, 0, NULL, NULL)));
    fprintf(out, "ptrace_attach_init=%s\n", escape_result(ptrace(PTRACE_ATTACH, 1, NULL, NULL)));
    char buffer[16];
    struct iovec local = { buffer, sizeof buffer }, remote = { (void *)0x400000, sizeof buffer };
    fprintf(out, "process_vm_readv=%s\n", escape_result(syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0)));
    union bpf_attr bpf;
    memset(&bpf, 0, sizeof bpf);
    bpf.map_type = BPF_MAP_TYPE_ARRAY;
    bpf.key_size = 4;
    bpf.value_size = 4;
    bpf.max_entries = 1;
    fprintf(out, "bpf=%s\n", escape_result(syscall(SYS_bpf, BPF_MAP_CREATE, &bpf, sizeof bpf)));
    struct perf_event_attr perf;
    memset(&perf, 0, sizeof perf);
    perf.type = PERF_TYPE_SOFTWARE;
    perf.size = sizeof perf;
    perf.config = PERF_COUNT_SW_CPU_CLOCK;
    long perf_fd = syscall(SYS_perf_event_open, &perf, 0, -1, -1, 0);
    fprintf(out, "perf_event_open=%s\n", escape_result(perf_fd));
    if (perf_fd >= 0) close((int)perf_fd);
    long raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    fprintf(out, "socket_raw=%s\n", escape_result(raw));
    if (raw >= 0) close((int)raw);
    long packet = socket(AF_PACKET, SOCK_RAW, 0);
    fprintf(out, "socket_packet=%s\n", escape_result(packet));
    if (packet >= 0) close((int)packet);
    fprintf(out, "init_module=%s\n", escape_result(syscall(SYS_init_module, NULL, 0, "")));
    fprintf(out, "finit_module=%s\n", escape_result(syscall(SYS_finit_module, -1, "", 0)));
    fprintf(out, "delete_module=%s\n", escape_result(syscall(SYS_delete_module, "escape", 0)));
    fprintf(out, "kexec_load=%s\n", escape_result(syscall(SYS_kexec_load, 0, 0, NULL, 0)));
    fprintf(out, "open_by_handle_at=%s\n", escape_result(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY)));
    fprintf(out, "userfaultfd=%s\n", escape_result(syscall(SYS_userfaultfd, O_CLOEXEC)));
    fprintf(out, "personality=%s\n", escape_result(personality(ADDR_NO_RANDOMIZE)));
    fprintf(out, "personality_query=%s\n", escape_result(personality(0xffffffff)));
#ifdef SYS_io_uring_setup
    fprintf(out, "io_uring_setup=%s\n", escape_result(syscall(SYS_io_uring_setup, 1, NULL)));
#endif
    char c = 'x';
    fprintf(out, "tiocsti=%s\n", escape_ioctl(TIOCSTI, (unsigned long)&c));
#if defined(__LP64__)
    /* CVE-2019-10063: the request is an int, so high bits must not get it past the filter. */
    fprintf(out, "tiocsti_high_bits=%s\n", escape_ioctl((1UL << 32) | TIOCSTI, (unsigned long)&c));
#else
    fprintf(out, "tiocsti_high_bits=skipped\n");
#endif
    /* I2C ioctls whose address the filter cannot confine: denied whatever the descriptor. */
    struct i2c_msg message = { 0x50, 0, 1, (__u8 *)buffer };
    struct i2c_rdwr_ioctl_data transfer = { &message, 1 };
    fprintf(out, "i2c_rdwr=%s\n", escape_ioctl(I2C_RDWR, (unsigned long)&transfer));
    fprintf(out, "i2c_slave_force=%s\n", escape_ioctl(I2C_SLAVE_FORCE, 0x50));
    fprintf(out, "i2c_tenbit=%s\n", escape_ioctl(I2C_TENBIT, 1));
    fprintf(out, "i2c_slave_undeclared=%s\n", escape_ioctl(I2C_SLAVE, 0x50));
    /* Turning a line request's input into an output: only through the host, which checks. */
    struct gpio_v2_line_config line_config;
    memset(&line_config, 0, sizeof line_config);
    line_config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
    fprintf(out, "gpio_set_config=%s\n", escape_ioctl(GPIO_V2_LINE_SET_CONFIG_IOCTL, (unsigned long)&line_config));
    struct gpiohandle_config handle_config;
    memset(&handle_config, 0, sizeof handle_config);
    handle_config.flags = GPIOHANDLE_REQUEST_OUTPUT;
    fprintf(out, "gpio_v1_set_config=%s\n", escape_ioctl(GPIOHANDLE_SET_CONFIG_IOCTL, (unsigned long)&handle_config));
    escape_target(host, "i2c_declared", target, sizeof target);
    if (target[0]) {
        unsigned long declared = strtoul(target, NULL, 0);
        /* Allowed by the filter: /dev/null then answers ENOTTY. */
        fprintf(out, "i2c_slave_declared=%s\n", escape_ioctl(I2C_SLAVE, declared));
        fprintf(out, "i2c_slave_declared_high_bits=%s\n", escape_ioctl(I2C_SLAVE, (1UL << 32 | declared)));
    }

    /* The bus descriptor the host hands over: the declared address only, SMBus only. */
    char bus[64];
    escape_target(host, "i2c_bus", bus, sizeof bus);
    if (bus[0] && host->size >= offsetof(iotsdk_host, i2c_open) + sizeof host->i2c_open) {
        escape_target(host, "i2c_declared", target, sizeof target);
        unsigned long declared = strtoul(target, NULL, 0);
        int32_t fd = host->i2c_open(host, (uint32_t)atoi(bus));
        fprintf(out, "i2c_open_declared=%s\n", fd >= 0 ? "ok" : escape_errno(-fd));
        int32_t other = host->i2c_open(host, (uint32_t)atoi(bus) + 1);
        fprintf(out, "i2c_open_undeclared=%s\n", other >= 0 ? "ok" : escape_errno(-other));
        if (other >= 0) close(other);
        if (fd >= 0) {
            fprintf(out, "i2c_fd_slave_declared=%s\n", escape_result(ioctl(fd, I2C_SLAVE, declared)));
            union i2c_smbus_data data;
            struct i2c_smbus_ioctl_data smbus = { I2C_SMBUS_READ, 0xD0, I2C_SMBUS_BYTE_DATA, &data };
            long rc = ioctl(fd, I2C_SMBUS, &smbus);
            if (rc >= 0) {
                fprintf(out, "i2c_fd_read_0xd0=0x%02x\n", data.byte);
            } else {
                fprintf(out, "i2c_fd_read_0xd0=%s\n", escape_errno(errno));
            }
            fprintf(out, "i2c_fd_slave_undeclared=%s\n", escape_result(ioctl(fd, I2C_SLAVE, 0x50)));
            struct i2c_rdwr_ioctl_data on_bus = { &message, 1 };
            fprintf(out, "i2c_fd_rdwr=%s\n", escape_result(ioctl(fd, I2C_RDWR, &on_bus)));
            fprintf(out, "i2c_fd_tenbit=%s\n", escape_result(ioctl(fd, I2C_TENBIT, 1)));
            close(fd);
        }
    }

    /* A granted input line: an output neither by ioctl nor through the host; other settings are fine. */
    char chip[256], line[64];
    escape_target(host, "gpio_chip", chip, sizeof chip);
    escape_target(host, "gpio_input", line, sizeof line);
    if (chip[0] && line[0] && host->size >= offsetof(iotsdk_host, gpio_reconfigure_lines) + sizeof host->gpio_reconfigure_lines) {
        int32_t fd = host->gpio_request(host, chip, (uint32_t)atoi(line), 0, 0);
        fprintf(out, "gpio_request_input=%s\n", fd >= 0 ? "ok" : escape_errno(-fd));
        if (fd >= 0) {
            struct gpio_v2_line_config config;
            memset(&config, 0, sizeof config);
            config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
            fprintf(out, "gpio_input_to_output_ioctl=%s\n", escape_result(ioctl(fd, GPIO_V2_LINE_SET_CONFIG_IOCTL, &config)));
            int32_t rc = host->gpio_reconfigure_lines(host, fd, &config);
            fprintf(out, "gpio_input_to_output_host=%s\n", rc == 0 ? "ok" : escape_errno(-rc));
            config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_BIAS_PULL_UP | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING;
            rc = host->gpio_reconfigure_lines(host, fd, &config);
            fprintf(out, "gpio_input_pull_up_host=%s\n", rc == 0 ? "ok" : escape_errno(-rc));
            fprintf(out, "gpio_reconfigure_other_fd=%s\n", escape_errno(-host->gpio_reconfigure_lines(host, 0, &config)));
            /* What the kernel says the line is now, as the host reads it. */
            struct gpio_v2_line_info info;
            memset(&info, 0, sizeof info);
            rc = host->gpio_line_info(host, chip, (uint32_t)atoi(line), &info);
            if (rc == 0) {
                fprintf(out, "gpio_line_flags=0x%llx\n", (unsigned long long)info.flags);
            } else {
                fprintf(out, "gpio_line_flags=%s\n", escape_errno(-rc));
            }
        }
    }

    /* Files: the kernel's triggers, /sys, /dev, another module's data. */
    fprintf(out, "sysrq_trigger=%s\n", escape_result(open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC)));
    fprintf(out, "proc_sys_write=%s\n", escape_result(open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC)));
    fprintf(out, "sys=%s\n", escape_result(open("/sys/kernel", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
    fprintf(out, "dev_mem=%s\n", escape_result(open("/dev/mem", O_RDONLY | O_CLOEXEC)));
    fprintf(out, "dev_gpiochip=%s\n", escape_result(open("/dev/gpiochip0", O_RDWR | O_CLOEXEC)));
    escape_target(host, "other_data", target, sizeof target);
    if (target[0]) {
        fprintf(out, "other_data=%s\n", escape_result(open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
    }

    /* The host's loopback listeners. */
    escape_target(host, "port", target, sizeof target);
    if (target[0]) {
        int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in address;
        memset(&address, 0, sizeof address);
        address.sin_family = AF_INET;
        address.sin_port = htons((uint16_t)atoi(target));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fprintf(out, "host_listener=%s\n", sock < 0 ? escape_errno(errno) : escape_result(connect(sock, (struct sockaddr *)&address, sizeof address)));
        if (sock >= 0) close(sock);
    }
    fclose(out);
    printf("escape_probe: wrote %s\n", path);
    return 0;
}
