// ciot_seccomp.h: the syscall filter of plugin-host-runner's sandbox (Sources/PluginHostRunner/
// SyscallFilter.swift). The BPF program is generated here, in C, because every syscall number
// comes from the kernel's headers of the architecture the runner is built for (<sys/syscall.h>);
// nothing is copied by hand, and no library (libseccomp) is needed on the device.
//
// The filter is a deny list: what device modules never need (user namespaces, mounts, keyrings,
// bpf, perf, ptrace, kernel modules, kexec, raw and packet sockets, setuid and setgid bits, the
// ioctls that escape a confined descriptor) is denied; everything else is allowed.
#ifndef CIOT_SECCOMP_H
#define CIOT_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

/// What a denial does.
typedef enum {
    /// EPERM, decided by the kernel alone (nothing is counted).
    CIOT_SECCOMP_DENY_ERRNO = 0,
    /// The call waits for the listener (`listener` of `ciot_seccomp_install`), which counts it and
    /// answers EPERM (`ciot_seccomp_respond(..., 0)`), or lets it run (log-only mode).
    CIOT_SECCOMP_DENY_NOTIFY = 1,
    /// Allowed, and logged by the kernel (SECCOMP_RET_LOG): log-only mode without a listener.
    CIOT_SECCOMP_DENY_LOG = 2,
} ciot_seccomp_action;

typedef struct {
    ciot_seccomp_action action;
    /// The I2C addresses `ioctl(fd, I2C_SLAVE, address)` may select; any other is denied.
    const uint16_t *i2c_addresses;
    size_t i2c_address_count;
} ciot_seccomp_options;

/// Builds the filter and installs it on the calling thread (no_new_privs or CAP_SYS_ADMIN is
/// needed). With CIOT_SECCOMP_DENY_NOTIFY, `*listener` receives the notification descriptor
/// (close-on-exec). 0, or -1 with errno set (EINVAL: too many addresses; the kernel's errors).
int ciot_seccomp_install(const ciot_seccomp_options *options, int *listener);

/// The number of instructions the filter of `options` has (for tests and reports).
int ciot_seccomp_program_length(const ciot_seccomp_options *options);

/// The filter's BPF program itself: copies up to `capacity` instructions (each a
/// `struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k) to `code` and returns how many the
/// program has, or -1 with errno. For the tests that run the program on each architecture.
int ciot_seccomp_program(const ciot_seccomp_options *options, void *code, int capacity);

/// One call the filter stopped, as the listener received it.
typedef struct {
    uint64_t id;
    int32_t pid;
    int32_t nr;
    uint32_t arch;
    uint64_t args[6];
} ciot_seccomp_notice;

/// Waits for the next stopped call on `listener`. 0, or -1 with errno (ENOENT: the caller died
/// meanwhile, ask again; EINTR).
int ciot_seccomp_receive(int listener, ciot_seccomp_notice *notice);

/// Answers a stopped call: `allow` 0 fails it with EPERM, 1 lets it run as if there were no
/// filter (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5). 0, or -1 with errno (ENOENT: the caller
/// died meanwhile).
int ciot_seccomp_respond(int listener, uint64_t id, int allow);

/// What the stopped call was, e.g. `unshare(CLONE_NEWUSER)`, `ioctl(I2C_SLAVE 0x50)` or
/// `socket(AF_PACKET)`, into `buffer` (always terminated).
void ciot_seccomp_describe(const ciot_seccomp_notice *notice, char *buffer, size_t size);

/// 1 if this kernel has seccomp filters with user notification (Linux 5.0), else 0.
int ciot_seccomp_notify_available(void);

#endif /* CIOT_SECCOMP_H */
