/*
 * filter_check.c: runs the sandbox's syscall filter (Sources/CIoTLinux/ciot_seccomp.c), built for
 * this architecture, on calls made up as the kernel would present them, with a small classic-BPF
 * interpreter, and checks each answer. Scripts/check-seccomp-arches.sh builds it for x86_64,
 * aarch64 and 32-bit ARM (cross compilers) and runs the foreign ones under qemu-user: every
 * syscall number comes from that architecture's own headers, as in the runner built for it.
 * Prints one line per check; exits 1 if any fails.
 */
#include "ciot_seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static struct sock_filter program[2048];
static int length;
static int failures;

/* The classic BPF subset the filter uses: absolute loads, JEQ/JGE/JSET, AND, RET. */
static uint32_t run(const struct seccomp_data *data) {
    uint32_t a = 0;
    for (int pc = 0; pc < length; pc++) {
        const struct sock_filter *i = &program[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS: memcpy(&a, (const char *)data + i->k, 4); break;
        case BPF_ALU | BPF_AND | BPF_K: a &= i->k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JSET | BPF_K: pc += (a & i->k) ? i->jt : i->jf; break;
        case BPF_RET | BPF_K: return i->k;
        default: printf("FAIL unknown instruction 0x%x at %d\n", i->code, pc); failures++; return 0;
        }
    }
    printf("FAIL the program ran off its end\n");
    failures++;
    return 0;
}

static uint32_t native_arch(void) {
#if defined(__x86_64__)
    return AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    return AUDIT_ARCH_AARCH64;
#elif defined(__arm__)
    return AUDIT_ARCH_ARM;
#else
    return 0;
#endif
}

static void check(const char *what, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint32_t expected) {
    struct seccomp_data data;
    memset(&data, 0, sizeof data);
    data.nr = (int)nr;
    data.arch = native_arch();
    data.args[0] = a0; data.args[1] = a1; data.args[2] = a2; data.args[3] = a3;
    uint32_t got = run(&data);
    int ok = got == expected;
    if (!ok) failures++;
    printf("%s %-48s 0x%08x%s\n", ok ? "ok  " : "FAIL", what, got, ok ? "" : " (wrong)");
}

int main(void) {
    const uint16_t addresses[] = { 0x76, 0x77 };
    ciot_seccomp_options options = { CIOT_SECCOMP_DENY_NOTIFY, addresses, 2 };
    length = ciot_seccomp_program(&options, program, (int)(sizeof program / sizeof program[0]));
    if (length <= 0 || length > (int)(sizeof program / sizeof program[0])) {
        printf("FAIL building the program: %d (%s)\n", length, strerror(errno));
        return 1;
    }
    printf("architecture 0x%x: %d instructions\n", native_arch(), length);
    const uint32_t allow = SECCOMP_RET_ALLOW, deny = SECCOMP_RET_USER_NOTIF, enosys = SECCOMP_RET_ERRNO | ENOSYS;
    const uint64_t high = 1ULL << 32;

    check("read", SYS_read, 0, 0, 0, 0, allow);
    check("openat, mode 0644", SYS_openat, 0, 0, 0x41, 0644, allow);
    check("openat, mode 04755", SYS_openat, 0, 0, 0x41, 04755, deny);
    check("fchmodat, mode 02755", SYS_fchmodat, 0, 0, 02755, 0, deny);
    check("fchmod, 0755", SYS_fchmod, 3, 0755, 0, 0, allow);
    check("unshare(CLONE_NEWUSER)", SYS_unshare, CLONE_NEWUSER, 0, 0, 0, deny);
    check("unshare(CLONE_FILES)", SYS_unshare, CLONE_FILES, 0, 0, 0, allow);
    check("clone(CLONE_NEWUSER | high bits)", SYS_clone, high | CLONE_NEWUSER | 17, 0, 0, 0, deny);
    check("clone(thread)", SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0, 0, 0, allow);
#ifdef SYS_clone3
    check("clone3", SYS_clone3, 0, 0, 0, 0, enosys);
#endif
    check("mount", SYS_mount, 0, 0, 0, 0, deny);
    check("keyctl", SYS_keyctl, 0, 0, 0, 0, deny);
    check("bpf", SYS_bpf, 0, 0, 0, 0, deny);
    check("ptrace", SYS_ptrace, 0, 0, 0, 0, deny);
    check("socket(AF_PACKET)", SYS_socket, AF_PACKET, SOCK_RAW, 0, 0, deny);
    check("socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC)", SYS_socket, AF_INET, SOCK_RAW | SOCK_CLOEXEC, 0, 0, deny);
    check("socket(AF_INET, SOCK_STREAM)", SYS_socket, AF_INET, SOCK_STREAM, 0, 0, allow);
    check("socket(AF_NETLINK, SOCK_RAW)", SYS_socket, AF_NETLINK, SOCK_RAW, 0, 0, allow);
    check("personality(0xffffffff)", SYS_personality, 0xffffffff, 0, 0, 0, allow);
    check("personality(ADDR_NO_RANDOMIZE)", SYS_personality, 0x0040000, 0, 0, 0, deny);
    check("ioctl(TIOCSTI | high bits)", SYS_ioctl, 0, high | TIOCSTI, 0, 0, deny);
    check("ioctl(I2C_SMBUS)", SYS_ioctl, 3, I2C_SMBUS, 0, 0, allow);
    check("ioctl(I2C_SLAVE 0x76)", SYS_ioctl, 3, I2C_SLAVE, 0x76, 0, allow);
    check("ioctl(I2C_SLAVE 0x50)", SYS_ioctl, 3, I2C_SLAVE, 0x50, 0, deny);
    check("ioctl(I2C_SLAVE 0x76 | high bits)", SYS_ioctl, 3, I2C_SLAVE, high | 0x76, 0, deny);
    check("ioctl(I2C_RDWR)", SYS_ioctl, 3, I2C_RDWR, 0, 0, deny);
    check("ioctl(I2C_TENBIT)", SYS_ioctl, 3, I2C_TENBIT, 1, 0, deny);
    check("ioctl(GPIO_V2_LINE_SET_VALUES)", SYS_ioctl, 3, GPIO_V2_LINE_SET_VALUES_IOCTL, 0, 0, allow);
    check("ioctl(GPIO_V2_LINE_SET_CONFIG)", SYS_ioctl, 3, GPIO_V2_LINE_SET_CONFIG_IOCTL, 0, 0, deny);

    struct seccomp_data foreign;
    memset(&foreign, 0, sizeof foreign);
    foreign.nr = SYS_read;
    foreign.arch = native_arch() == AUDIT_ARCH_X86_64 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
    uint32_t got = run(&foreign);
    printf("%s %-48s 0x%08x\n", got == deny ? "ok  " : "FAIL", "read of another architecture", got);
    if (got != deny) failures++;
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
