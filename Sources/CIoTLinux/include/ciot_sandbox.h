// ciot_sandbox.h: what plugin-host-runner's sandbox (Sources/PluginHostRunner/Sandbox.swift)
// needs from the kernel that Swift cannot call itself: syscall(2) and prctl(2) are variadic, and
// the flag values are macros. Every constant comes from the kernel's or glibc's headers; nothing
// is copied by hand. Each wrapper is a `static inline` with the `ciot_` prefix and returns what
// the call returns, errno left set on -1.
#ifndef CIOT_SANDBOX_H
#define CIOT_SANDBOX_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <net/if.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/securebits.h>

// MARK: - Namespaces (unshare(2))

static const int CIOT_CLONE_NEWNS = CLONE_NEWNS;
static const int CIOT_CLONE_NEWPID = CLONE_NEWPID;
static const int CIOT_CLONE_NEWIPC = CLONE_NEWIPC;
static const int CIOT_CLONE_NEWUTS = CLONE_NEWUTS;
static const int CIOT_CLONE_NEWNET = CLONE_NEWNET;
static const int CIOT_CLONE_NEWCGROUP = CLONE_NEWCGROUP;
static const int CIOT_CLONE_NEWUSER = CLONE_NEWUSER;

/// unshare(2) through syscall(2), so that it does not depend on _GNU_SOURCE.
static inline int ciot_unshare(int flags) { return (int)syscall(SYS_unshare, flags); }

// MARK: - Mounts

static const unsigned long CIOT_MS_RDONLY = MS_RDONLY;
static const unsigned long CIOT_MS_NOSUID = MS_NOSUID;
static const unsigned long CIOT_MS_NODEV = MS_NODEV;
static const unsigned long CIOT_MS_NOEXEC = MS_NOEXEC;
static const unsigned long CIOT_MS_REMOUNT = MS_REMOUNT;
static const unsigned long CIOT_MS_BIND = MS_BIND;
static const unsigned long CIOT_MS_REC = MS_REC;
static const unsigned long CIOT_MS_PRIVATE = MS_PRIVATE;
static const unsigned long CIOT_MS_MOVE = MS_MOVE;
static const int CIOT_MNT_DETACH = MNT_DETACH;

static inline int ciot_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    return mount(source, target, type, flags, data);
}

static inline int ciot_umount2(const char *target, int flags) { return umount2(target, flags); }

/// pivot_root(2) has no glibc wrapper.
static inline int ciot_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

// MARK: - prctl

static inline int ciot_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL); }
static inline int ciot_get_no_new_privs(void) { return prctl(PR_GET_NO_NEW_PRIVS, 0UL, 0UL, 0UL, 0UL); }
static inline int ciot_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL); }
static inline int ciot_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL); }
/// The thread's name in ps and /proc/<pid>/comm (at most 15 bytes are kept).
static inline int ciot_set_thread_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL); }

/// Removes `capability` from the bounding set (needs CAP_SETPCAP); EINVAL past the last one the
/// kernel knows.
static inline int ciot_capbset_drop(int capability) { return prctl(PR_CAPBSET_DROP, (unsigned long)capability, 0UL, 0UL, 0UL); }
/// 1 if `capability` is in the bounding set, 0 if not, -1 (EINVAL) past the last one.
static inline int ciot_capbset_read(int capability) { return prctl(PR_CAPBSET_READ, (unsigned long)capability, 0UL, 0UL, 0UL); }
/// Empties the ambient set (Linux 4.3; EINVAL before).
static inline int ciot_cap_ambient_clear_all(void) { return prctl(PR_CAP_AMBIENT, (unsigned long)PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL); }

static const unsigned long CIOT_SECBIT_NOROOT = SECBIT_NOROOT;
static const unsigned long CIOT_SECBIT_NOROOT_LOCKED = SECBIT_NOROOT_LOCKED;
static const unsigned long CIOT_SECBIT_KEEP_CAPS_LOCKED = SECBIT_KEEP_CAPS_LOCKED;
static const unsigned long CIOT_SECBIT_NO_CAP_AMBIENT_RAISE = SECBIT_NO_CAP_AMBIENT_RAISE;
static const unsigned long CIOT_SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

/// prctl(PR_SET_SECUREBITS) (needs CAP_SETPCAP).
static inline int ciot_set_securebits(unsigned long bits) { return prctl(PR_SET_SECUREBITS, bits, 0UL, 0UL, 0UL); }

// MARK: - Capabilities (capget(2)/capset(2) have no glibc wrapper; libcap is not needed)

static const int CIOT_CAP_LAST_CAP = CAP_LAST_CAP;

/// Empties this thread's effective, permitted and inheritable sets.
static inline int ciot_cap_clear_all(void) {
    struct __user_cap_header_struct header;
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(&header, 0, sizeof header);
    memset(data, 0, sizeof data);
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    return (int)syscall(SYS_capset, &header, data);
}

/// This thread's effective, permitted and inheritable sets, as 64-bit masks.
static inline int ciot_cap_get(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct header;
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(&header, 0, sizeof header);
    memset(data, 0, sizeof data);
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    int rc = (int)syscall(SYS_capget, &header, data);
    if (rc == 0) {
        *effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
        *permitted = ((uint64_t)data[1].permitted << 32) | data[0].permitted;
        *inheritable = ((uint64_t)data[1].inheritable << 32) | data[0].inheritable;
    }
    return rc;
}

// MARK: - Resource limits (the RLIMIT_ values are an enum of a GNU-only type in glibc)

static const int CIOT_RLIMIT_NOFILE = RLIMIT_NOFILE;
static const int CIOT_RLIMIT_CORE = RLIMIT_CORE;

static inline int ciot_set_rlimit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit;
    limit.rlim_cur = (rlim_t)soft;
    limit.rlim_max = (rlim_t)hard;
    return setrlimit(resource, &limit);
}

// MARK: - Network

/// Brings the loopback interface of this network namespace up (a new namespace has it down).
static inline int ciot_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &request);
    if (rc == 0) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

#endif /* CIOT_SANDBOX_H */
