// The syscall filter of the sandbox: see include/ciot_seccomp.h and Documentation/Security.md.
#include "ciot_seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <linux/i2c-dev.h>
#include <linux/gpio.h>

#if defined(__x86_64__)
#define CIOT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CIOT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && defined(__ARMEL__)
#define CIOT_AUDIT_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define CIOT_AUDIT_ARCH AUDIT_ARCH_RISCV64
#else
#define CIOT_AUDIT_ARCH 0
#endif

// Syscalls added since the kernel headers of the oldest system we build on: the same number on
// every architecture since Linux 5.1 (the unified table).
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif
#ifndef __NR_quotactl_fd
#define __NR_quotactl_fd 443
#endif

// An argument's two 32-bit halves in struct seccomp_data (args are u64).
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#define ARG_HIGH(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i) + 4))
#else
#define ARG_LOW(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i) + 4))
#define ARG_HIGH(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#endif

// The namespace flags of clone(2) and unshare(2). Without capabilities only CLONE_NEWUSER would
// succeed, but it gives back every other one inside the new user namespace.
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define NAMESPACE_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME)

// MARK: - What is denied

typedef enum {
    RULE_DENY,        // always denied
    RULE_ENOSYS,      // fails with ENOSYS, so that the C library falls back (not a denial: not counted)
    RULE_NAMESPACES,  // denied when argument 0 holds a namespace flag
    RULE_MODE,        // denied when argument `arg` (a mode) has the setuid or setgid bit
    RULE_IOCTL,
    RULE_SOCKET,
    RULE_PERSONALITY,
} rule_kind;

typedef struct {
    long nr;
    const char *name;
    rule_kind kind;
    int arg;
} rule;

#define DENY(name) { __NR_##name, #name, RULE_DENY, 0 },
#define RULE(name, kind, arg) { __NR_##name, #name, kind, arg },

static const rule rules[] = {
    // The rules are tried in order, so the calls with arguments to check that a module makes all
    // the time come first: ioctl (every GPIO set and SMBus transfer on a granted descriptor) and
    // openat. (Calls whose answer does not depend on their arguments skip the filter altogether
    // from Linux 5.11 on: the kernel caches their answer.)
    RULE(ioctl, RULE_IOCTL, 0)
    RULE(openat, RULE_MODE, 3)
    // The mount family: a new mount namespace of the module's own would need a user namespace.
    DENY(mount)
#ifdef __NR_umount
    DENY(umount)
#endif
    DENY(umount2)
    DENY(pivot_root)
    DENY(chroot)
#ifdef __NR_open_tree
    DENY(open_tree) DENY(move_mount) DENY(fsopen) DENY(fsconfig) DENY(fsmount) DENY(fspick)
#endif
    DENY(mount_setattr)
    DENY(setns)
    // Kernel surfaces a device module never needs (Docker's default profile denies them too).
    DENY(bpf)
    DENY(perf_event_open)
    DENY(add_key) DENY(request_key) DENY(keyctl)
    DENY(ptrace) DENY(process_vm_readv) DENY(process_vm_writev) DENY(process_madvise) DENY(kcmp)
#ifdef __NR_pidfd_getfd
    DENY(pidfd_getfd)
#endif
    DENY(init_module) DENY(finit_module) DENY(delete_module)
#ifdef __NR_create_module
    DENY(create_module)
#endif
#ifdef __NR_query_module
    DENY(query_module)
#endif
#ifdef __NR_get_kernel_syms
    DENY(get_kernel_syms)
#endif
    DENY(kexec_load)
#ifdef __NR_kexec_file_load
    DENY(kexec_file_load)
#endif
    DENY(open_by_handle_at) DENY(name_to_handle_at)
    DENY(userfaultfd)
#ifdef __NR_io_uring_setup
    DENY(io_uring_setup) DENY(io_uring_enter) DENY(io_uring_register)
#endif
    DENY(fanotify_init)
    DENY(acct) DENY(swapon) DENY(swapoff) DENY(reboot) DENY(syslog) DENY(quotactl) DENY(quotactl_fd)
#ifdef __NR_lookup_dcookie
    DENY(lookup_dcookie)
#endif
#ifdef __NR_nfsservctl
    DENY(nfsservctl)
#endif
    DENY(vhangup)
#ifdef __NR_uselib
    DENY(uselib)
#endif
#ifdef __NR_ustat
    DENY(ustat)
#endif
#ifdef __NR_sysfs
    DENY(sysfs)
#endif
#ifdef __NR__sysctl
    DENY(_sysctl)
#endif
#ifdef __NR_iopl
    DENY(iopl)
#endif
#ifdef __NR_ioperm
    DENY(ioperm)
#endif
#ifdef __NR_vm86
    DENY(vm86)
#endif
#ifdef __NR_vm86old
    DENY(vm86old)
#endif
    DENY(settimeofday) DENY(clock_settime)
#ifdef __NR_clock_settime64
    DENY(clock_settime64)
#endif
#ifdef __NR_stime
    DENY(stime)
#endif
    // clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes the C library
    // use clone, whose flags it can. openat2 likewise carries the mode of a new file in memory.
#ifdef __NR_clone3
    RULE(clone3, RULE_ENOSYS, 0)
#endif
#ifdef __NR_openat2
    RULE(openat2, RULE_ENOSYS, 0)
#endif
    RULE(clone, RULE_NAMESPACES, 0)
    RULE(unshare, RULE_NAMESPACES, 0)
    // No setuid or setgid files: one left in /data would be setuid on the host too.
#ifdef __NR_chmod
    RULE(chmod, RULE_MODE, 1)
#endif
    RULE(fchmod, RULE_MODE, 1)
    RULE(fchmodat, RULE_MODE, 2)
    RULE(fchmodat2, RULE_MODE, 2)
#ifdef __NR_open
    RULE(open, RULE_MODE, 2)
#endif
#ifdef __NR_creat
    RULE(creat, RULE_MODE, 1)
#endif
#ifdef __NR_mknod
    RULE(mknod, RULE_MODE, 1)
#endif
    RULE(mknodat, RULE_MODE, 2)
#ifdef __NR_socket
    RULE(socket, RULE_SOCKET, 0)
#endif
#ifdef __NR_socketcall
    DENY(socketcall)
#endif
    RULE(personality, RULE_PERSONALITY, 0)
};

/// The personalities a module may set (or query, 0xffffffff): Linux, and Linux with 32-bit
/// uname or the old version string. Not ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC.
static const uint32_t allowed_personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

// MARK: - A small assembler with forward labels

enum { MAX_INSTRUCTIONS = 1024, MAX_LABELS = 512, NEXT = -1 };

typedef struct {
    struct sock_filter code[MAX_INSTRUCTIONS];
    int jt_label[MAX_INSTRUCTIONS];
    int jf_label[MAX_INSTRUCTIONS];
    int label_position[MAX_LABELS];
    int count;
    int labels;
    int overflow;
} assembler;

static int new_label(assembler *a) {
    if (a->labels >= MAX_LABELS) { a->overflow = 1; return 0; }
    a->label_position[a->labels] = -1;
    return a->labels++;
}

static void place(assembler *a, int label) { a->label_position[label] = a->count; }

static void emit(assembler *a, uint16_t code, uint32_t k, int jt, int jf) {
    if (a->count >= MAX_INSTRUCTIONS) { a->overflow = 1; return; }
    a->code[a->count] = (struct sock_filter){ code, 0, 0, k };
    a->jt_label[a->count] = jt;
    a->jf_label[a->count] = jf;
    a->count++;
}

static void load(assembler *a, uint32_t offset) { emit(a, BPF_LD | BPF_W | BPF_ABS, offset, NEXT, NEXT); }
static void ret(assembler *a, uint32_t value) { emit(a, BPF_RET | BPF_K, value, NEXT, NEXT); }
static void jump_if_equal(assembler *a, uint32_t k, int jt, int jf) { emit(a, BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf); }
static void jump_if_set(assembler *a, uint32_t k, int jt, int jf) { emit(a, BPF_JMP | BPF_JSET | BPF_K, k, jt, jf); }

/// Turns labels into the 8-bit forward offsets BPF has; -1 (E2BIG) if one is out of reach.
static int resolve(assembler *a) {
    if (a->overflow) { errno = E2BIG; return -1; }
    for (int i = 0; i < a->count; i++) {
        int labels[2] = { a->jt_label[i], a->jf_label[i] };
        uint8_t offsets[2] = { 0, 0 };
        for (int j = 0; j < 2; j++) {
            if (labels[j] == NEXT) continue;
            int distance = a->label_position[labels[j]] - (i + 1);
            if (a->label_position[labels[j]] < 0 || distance < 0 || distance > 255) { errno = E2BIG; return -1; }
            offsets[j] = (uint8_t)distance;
        }
        a->code[i].jt = offsets[0];
        a->code[i].jf = offsets[1];
    }
    return 0;
}

// MARK: - The program

static uint32_t deny_action(ciot_seccomp_action action) {
    switch (action) {
    case CIOT_SECCOMP_DENY_NOTIFY: return SECCOMP_RET_USER_NOTIF;
    case CIOT_SECCOMP_DENY_LOG: return SECCOMP_RET_LOG;
    default: return SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
    }
}

static void assemble(assembler *a, const ciot_seccomp_options *options) {
    const uint32_t deny = deny_action(options->action);
    const uint32_t allow = SECCOMP_RET_ALLOW;

    // Another architecture's calls (i386 on x86_64, arm on aarch64) have other numbers: denied.
    int native = new_label(a);
    load(a, offsetof(struct seccomp_data, arch));
    jump_if_equal(a, CIOT_AUDIT_ARCH, native, NEXT);
    ret(a, deny);
    place(a, native);
    load(a, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    // The x32 ABI: the same numbers with bit 30 set.
    int not_x32 = new_label(a);
    emit(a, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, NEXT, not_x32);
    ret(a, deny);
    place(a, not_x32);
#endif

    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        const rule *rule = &rules[r];
        int next_rule = new_label(a);
        int denied = new_label(a), allowed = new_label(a);
        jump_if_equal(a, (uint32_t)rule->nr, NEXT, next_rule);
        switch (rule->kind) {
        case RULE_DENY:
            ret(a, deny);
            break;
        case RULE_ENOSYS:
            ret(a, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
            break;
        case RULE_NAMESPACES:
            // Flags are an unsigned long, but the kernel reads only their low 32 bits.
            load(a, ARG_LOW(0));
            jump_if_set(a, NAMESPACE_FLAGS, denied, allowed);
            break;
        case RULE_MODE:
            load(a, ARG_LOW(rule->arg));
            jump_if_set(a, S_ISUID | S_ISGID, denied, allowed);
            break;
        case RULE_SOCKET: {
            int inet = new_label(a);
            load(a, ARG_LOW(0));
            jump_if_equal(a, AF_PACKET, denied, NEXT);
            jump_if_equal(a, AF_INET, inet, NEXT);
            jump_if_equal(a, AF_INET6, inet, allowed);
            place(a, inet);
            load(a, ARG_LOW(1));
            emit(a, BPF_ALU | BPF_AND | BPF_K, 0xf, NEXT, NEXT); // the type without SOCK_NONBLOCK/CLOEXEC
            jump_if_equal(a, SOCK_RAW, denied, allowed);
            break;
        }
        case RULE_PERSONALITY:
            load(a, ARG_LOW(0));
            for (size_t i = 0; i < sizeof allowed_personalities / sizeof allowed_personalities[0]; i++) {
                jump_if_equal(a, allowed_personalities[i], allowed, NEXT);
            }
            ret(a, deny);
            break;
        case RULE_IOCTL: {
            // The request is an unsigned int: only its low 32 bits count, whatever the high ones
            // say (the lesson of CVE-2019-10063, where comparing all 64 let TIOCSTI through).
            int slave = new_label(a);
            load(a, ARG_LOW(1));
            // What a module does on its descriptors all the time, allowed at once.
            const uint32_t frequent[] = {
                I2C_SMBUS, GPIO_V2_LINE_SET_VALUES_IOCTL, GPIO_V2_LINE_GET_VALUES_IOCTL,
                GPIOHANDLE_SET_LINE_VALUES_IOCTL, GPIOHANDLE_GET_LINE_VALUES_IOCTL,
            };
            for (size_t i = 0; i < sizeof frequent / sizeof frequent[0]; i++) jump_if_equal(a, frequent[i], allowed, NEXT);
            const uint32_t escapes[] = {
                TIOCSTI, TIOCLINUX,
                // Their messages carry addresses of their own, which a filter cannot read.
                I2C_SLAVE_FORCE, I2C_RDWR,
                // Ten-bit addressing would read a declared 7-bit address as another device's.
                I2C_TENBIT,
                // A declared input would become an output: the host reconfigures lines instead.
                GPIO_V2_LINE_SET_CONFIG_IOCTL, GPIOHANDLE_SET_CONFIG_IOCTL,
            };
            for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) jump_if_equal(a, escapes[i], denied, NEXT);
            jump_if_equal(a, I2C_SLAVE, slave, allowed);
            place(a, slave);
            // The address is passed by value: only a declared one, and nothing in the high half.
            load(a, ARG_HIGH(2));
            jump_if_equal(a, 0, NEXT, denied);
            load(a, ARG_LOW(2));
            for (size_t i = 0; i < options->i2c_address_count; i++) jump_if_equal(a, options->i2c_addresses[i], allowed, NEXT);
            ret(a, deny);
            break;
        }
        }
        if (rule->kind != RULE_DENY && rule->kind != RULE_ENOSYS) {
            place(a, denied);
            ret(a, deny);
            place(a, allowed);
            ret(a, allow);
        }
        place(a, next_rule);
    }
    ret(a, allow);
}

static int build(const ciot_seccomp_options *options, assembler *a) {
    memset(a, 0, sizeof *a);
    if (CIOT_AUDIT_ARCH == 0) { errno = ENOSYS; return -1; }
    if (options->i2c_address_count > 128) { errno = EINVAL; return -1; }
    assemble(a, options);
    return resolve(a);
}

int ciot_seccomp_program(const ciot_seccomp_options *options, void *code, int capacity) {
    assembler *a = malloc(sizeof *a);
    if (!a) { errno = ENOMEM; return -1; }
    int length = -1;
    if (build(options, a) == 0) {
        length = a->count;
        if (code && capacity > 0) memcpy(code, a->code, sizeof a->code[0] * (size_t)(length < capacity ? length : capacity));
    }
    int saved = errno;
    free(a);
    errno = saved;
    return length;
}

int ciot_seccomp_program_length(const ciot_seccomp_options *options) { return ciot_seccomp_program(options, NULL, 0); }

int ciot_seccomp_install(const ciot_seccomp_options *options, int *listener) {
    assembler *a = malloc(sizeof *a);
    if (!a) { errno = ENOMEM; return -1; }
    if (build(options, a) != 0) { int saved = errno; free(a); errno = saved; return -1; }
    struct sock_fprog program = { (unsigned short)a->count, a->code };
    unsigned int flags = options->action == CIOT_SECCOMP_DENY_NOTIFY ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
    int saved = errno;
    free(a);
    if (rc < 0) { errno = saved; return -1; }
    if (listener) *listener = options->action == CIOT_SECCOMP_DENY_NOTIFY ? (int)rc : -1;
    return 0;
}

// MARK: - The listener

int ciot_seccomp_notify_available(void) {
    struct seccomp_notif_sizes sizes;
    return syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0 ? 1 : 0;
}

int ciot_seccomp_receive(int listener, ciot_seccomp_notice *notice) {
    // The kernel's structure may be larger than these headers' one: ask for its size.
    static size_t size = 0;
    if (size == 0) {
        struct seccomp_notif_sizes sizes;
        size = syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0 && sizes.seccomp_notif > sizeof(struct seccomp_notif)
            ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
    }
    struct seccomp_notif *request = calloc(1, size);
    if (!request) { errno = ENOMEM; return -1; }
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request) != 0) { int saved = errno; free(request); errno = saved; return -1; }
    notice->id = request->id;
    notice->pid = (int32_t)request->pid;
    notice->nr = request->data.nr;
    notice->arch = request->data.arch;
    for (int i = 0; i < 6; i++) notice->args[i] = request->data.args[i];
    free(request);
    return 0;
}

int ciot_seccomp_respond(int listener, uint64_t id, int allow) {
    struct seccomp_notif_resp response;
    memset(&response, 0, sizeof response);
    response.id = id;
    if (allow) {
        response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        response.error = -EPERM;
    }
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
}

// MARK: - Describing a call

static void append(char *buffer, size_t size, const char *text) {
    size_t used = strlen(buffer);
    if (used + 1 < size) snprintf(buffer + used, size - used, "%s", text);
}

void ciot_seccomp_describe(const ciot_seccomp_notice *notice, char *buffer, size_t size) {
    if (size == 0) return;
    buffer[0] = 0;
    if (notice->arch != CIOT_AUDIT_ARCH) {
        snprintf(buffer, size, "syscall %d of another architecture (0x%x)", notice->nr, notice->arch);
        return;
    }
#if defined(__x86_64__)
    if (notice->nr >= 0x40000000) {
        snprintf(buffer, size, "x32 syscall %d", notice->nr & ~0x40000000);
        return;
    }
#endif
    const rule *found = NULL;
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        if (rules[r].nr == notice->nr) { found = &rules[r]; break; }
    }
    if (!found) {
        snprintf(buffer, size, "syscall %d", notice->nr);
        return;
    }
    uint32_t low = (uint32_t)notice->args[found->arg];
    char detail[64] = "";
    switch (found->kind) {
    case RULE_NAMESPACES: {
        static const struct { uint32_t flag; const char *name; } flags[] = {
            { CLONE_NEWUSER, "CLONE_NEWUSER" }, { CLONE_NEWNS, "CLONE_NEWNS" }, { CLONE_NEWPID, "CLONE_NEWPID" },
            { CLONE_NEWNET, "CLONE_NEWNET" }, { CLONE_NEWIPC, "CLONE_NEWIPC" }, { CLONE_NEWUTS, "CLONE_NEWUTS" },
            { CLONE_NEWCGROUP, "CLONE_NEWCGROUP" }, { CLONE_NEWTIME, "CLONE_NEWTIME" },
        };
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
            if (low & flags[i].flag) {
                if (detail[0]) append(detail, sizeof detail, "|");
                append(detail, sizeof detail, flags[i].name);
            }
        }
        break;
    }
    case RULE_MODE:
        snprintf(detail, sizeof detail, "%s", (low & S_ISUID) ? "setuid" : "setgid");
        break;
    case RULE_SOCKET: {
        uint32_t domain = (uint32_t)notice->args[0];
        snprintf(detail, sizeof detail, "%s", domain == AF_PACKET ? "AF_PACKET" : domain == AF_INET ? "AF_INET, SOCK_RAW" : "AF_INET6, SOCK_RAW");
        break;
    }
    case RULE_PERSONALITY:
        snprintf(detail, sizeof detail, "0x%x", low);
        break;
    case RULE_IOCTL: {
        uint32_t request = (uint32_t)notice->args[1];
        switch (request) {
        case TIOCSTI: snprintf(detail, sizeof detail, "TIOCSTI"); break;
        case TIOCLINUX: snprintf(detail, sizeof detail, "TIOCLINUX"); break;
        case I2C_SLAVE_FORCE: snprintf(detail, sizeof detail, "I2C_SLAVE_FORCE 0x%llx", (unsigned long long)notice->args[2]); break;
        case I2C_RDWR: snprintf(detail, sizeof detail, "I2C_RDWR"); break;
        case I2C_TENBIT: snprintf(detail, sizeof detail, "I2C_TENBIT"); break;
        case I2C_SLAVE: snprintf(detail, sizeof detail, "I2C_SLAVE 0x%llx", (unsigned long long)notice->args[2]); break;
        case GPIO_V2_LINE_SET_CONFIG_IOCTL: snprintf(detail, sizeof detail, "GPIO_V2_LINE_SET_CONFIG_IOCTL"); break;
        case GPIOHANDLE_SET_CONFIG_IOCTL: snprintf(detail, sizeof detail, "GPIOHANDLE_SET_CONFIG_IOCTL"); break;
        default: snprintf(detail, sizeof detail, "0x%x", request); break;
        }
        break;
    }
    default:
        break;
    }
    snprintf(buffer, size, "%s(%s)", found->name, detail);
}
