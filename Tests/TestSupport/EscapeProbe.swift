import Foundation

/// What the escape probe (Tests/Fixtures/modules/escape_probe.c) must find in the sandbox, shared
/// by the suite on this machine (SyscallFilterTests) and the real-kernel lab (iotsdk-lab).
public enum EscapeProbe {
    /// Each escape the syscall filter stops: the probe's key, and the call as the host counts it.
    public static let filtered: [(escape: String, call: String)] = [
        ("unshare_user", "unshare(CLONE_NEWUSER)"),
        ("unshare_user_mount", "unshare(CLONE_NEWUSER|CLONE_NEWNS)"),
        ("clone_user", "clone(CLONE_NEWUSER)"),
        ("clone_user_high_bits", "clone(CLONE_NEWUSER)"),
        ("add_key", "add_key()"),
        ("keyctl", "keyctl()"),
        ("setuid_chmod", "chmod(setuid)"),
        ("setuid_fchmodat", "fchmodat(setuid)"),
        ("setgid_fchmod", "fchmod(setgid)"),
        ("setuid_open", "openat(setuid)"),
        ("setuid_mknod", "mknodat(setuid)"),
        ("mount", "mount()"),
        ("umount", "umount2()"),
        ("pivot_root", "pivot_root()"),
        ("chroot", "chroot()"),
        ("setns", "setns()"),
        ("ptrace_traceme", "ptrace()"),
        ("ptrace_attach_init", "ptrace()"),
        ("process_vm_readv", "process_vm_readv()"),
        ("bpf", "bpf()"),
        ("perf_event_open", "perf_event_open()"),
        ("socket_raw", "socket(AF_INET, SOCK_RAW)"),
        ("socket_packet", "socket(AF_PACKET)"),
        ("init_module", "init_module()"),
        ("finit_module", "finit_module()"),
        ("delete_module", "delete_module()"),
        ("kexec_load", "kexec_load()"),
        ("open_by_handle_at", "open_by_handle_at()"),
        ("userfaultfd", "userfaultfd()"),
        ("personality", "personality(0x40000)"),
        ("io_uring_setup", "io_uring_setup()"),
        ("tiocsti", "ioctl(TIOCSTI)"),
        ("tiocsti_high_bits", "ioctl(TIOCSTI)"),
        ("i2c_rdwr", "ioctl(I2C_RDWR)"),
        ("gpio_set_config", "ioctl(GPIO_V2_LINE_SET_CONFIG_IOCTL)"),
        ("gpio_v1_set_config", "ioctl(GPIOHANDLE_SET_CONFIG_IOCTL)"),
        ("i2c_slave_force", "ioctl(I2C_SLAVE_FORCE 0x50)"),
        ("i2c_tenbit", "ioctl(I2C_TENBIT)"),
        ("i2c_slave_undeclared", "ioctl(I2C_SLAVE 0x50)"),
        ("i2c_slave_declared_high_bits", "ioctl(I2C_SLAVE 0x100000076)"),
    ]

    /// What other parts of the sandbox stop (not the filter), and how.
    public static func heldElsewhere(sysrqTrigger: Bool) -> [(escape: String, result: String)] {
        [
            // clone3 carries its flags in memory: ENOSYS, so that the C library uses clone (filtered).
            ("clone3_user", "ENOSYS"),
            // The filter lets a declared address through; /dev/null then refuses the ioctl itself.
            ("i2c_slave_declared", "ENOTTY"),
            ("personality_query", "ok"),
            // Read-only where the kernel has it (ENOENT where it has none, as in some containers).
            ("sysrq_trigger", sysrqTrigger ? "EROFS" : "ENOENT"),
            ("proc_sys_write", "EROFS"),
            ("sys", "ENOENT"),
            ("dev_mem", "ENOENT"),
            ("dev_gpiochip", "ENOENT"),
            ("other_data", "ENOENT"),
            ("host_listener", "ECONNREFUSED"),
        ]
    }

    /// The lines of `<data>/escapes.txt` as key → result.
    public static func results(dataDirectory: String) -> [String: String] {
        var results: [String: String] = [:]
        let text = (try? String(contentsOfFile: dataDirectory + "/escapes.txt", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            results[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return results
    }

    /// Everything that differs from what the probe must find: escapes that were not stopped as
    /// expected, filtered calls that were not counted, and counts that are not the expected
    /// number of calls (`extraCalls`: calls made besides the escapes, e.g. by the GPIO part).
    /// Empty when every escape was denied and every denial counted.
    public static func problems(results: [String: String], counts: [String: Int], sysrqTrigger: Bool, extraCalls: [String: Int] = [:]) -> [String] {
        var problems: [String] = []
        var expectedCounts = extraCalls
        for (escape, call) in filtered {
            if results[escape] != "EPERM" { problems.append("\(escape): \(results[escape] ?? "not tried"), not EPERM") }
            expectedCounts[call, default: 0] += 1
        }
        for (escape, result) in heldElsewhere(sysrqTrigger: sysrqTrigger) where results[escape] != result {
            problems.append("\(escape): \(results[escape] ?? "not tried"), not \(result)")
        }
        for (call, expected) in expectedCounts where counts[call] != expected {
            problems.append("\(call) counted \(counts[call].map(String.init) ?? "never"), not \(expected)")
        }
        for call in counts.keys where expectedCounts[call] == nil {
            problems.append("\(call) counted, but the probe makes no such call")
        }
        return problems
    }
}
