import LinuxSupport
import CIoTLinux
import Glibc
import ModuleProtocol
import Synchronization

// The sandbox's syscall filter (the BPF program: CIoTLinux's ciot_seccomp.c).
//
// The init installs it once the new root is built, before it forks the module process, which
// inherits it (and cannot remove it: filters only ever add up). The init has CAP_SYS_ADMIN then,
// so the filter needs no no_new_privs of its own; the module process sets no_new_privs anyway.
// The init is under the filter too, and never makes a call it stops.
//
// A stopped call waits for the filter's listener, which the init keeps (the module process
// closes its copy at once: a module that could answer for itself would let everything through).
// A thread of the init answers each one, EPERM or, in log-only mode, "go on", counts it by what
// it was (`unshare(CLONE_NEWUSER)`), and tells the host on the module's connection
// (`Message.syscallDenied`, at most once a second for each call, and when the run ends). Without
// user notification in the kernel (before Linux 5.0) the filter answers EPERM itself, or lets the
// call through and logs it to the kernel's audit log in log-only mode, and nothing is counted.

enum SyscallFilter {
    /// Installs the filter on this process (the init) as `spec` says; the listener when calls are
    /// counted. What fails is reported.
    static func install(_ spec: SandboxSpec, report: inout SandboxReport) -> Int32? {
        guard spec.syscallFilter != .off else { return nil }
        let counted = ciot_seccomp_notify_available() == 1
        var options = ciot_seccomp_options()
        options.action = counted ? CIOT_SECCOMP_DENY_NOTIFY : spec.syscallFilter == .log ? CIOT_SECCOMP_DENY_LOG : CIOT_SECCOMP_DENY_ERRNO
        var listener: Int32 = -1
        func attempt() -> Int32 {
            spec.i2cAddresses.withUnsafeBufferPointer { addresses in
                options.i2c_addresses = addresses.baseAddress
                options.i2c_address_count = addresses.count
                return ciot_seccomp_install(&options, &listener)
            }
        }
        var installed = attempt() == 0
        // Without CAP_SYS_ADMIN the kernel wants no_new_privs first.
        if !installed, errno == EACCES, ciot_set_no_new_privs() == 0 { installed = attempt() == 0 }
        guard installed else {
            report.refused("syscall filter", call: "seccomp(SECCOMP_SET_MODE_FILTER)", errno)
            return nil
        }
        if !counted {
            report.refused("counting the syscall filter's denials",
                           "this kernel has no seccomp user notification (Linux 5.0): the filter \(spec.syscallFilter == .log ? "logs to the kernel's audit log" : "denies") without counting")
        }
        return counted ? listener : nil
    }
}

/// The init's side of the listener: answers, counts and reports every call the filter stopped.
final class SyscallDenialReporter: Sendable {
    let listener: Int32
    let channel: Channel
    /// false: log-only mode, the calls run.
    let enforced: Bool

    private struct Entry {
        var count: UInt32 = 0
        var sent: UInt32 = 0
        var lastSent: ContinuousClock.Instant?
    }
    private let entries = Mutex<[String: Entry]>([:])

    /// Distinct calls counted one by one; any more are counted together as `other`.
    static let maxCalls = 64
    /// How often the host hears about one call at most.
    static let interval: Duration = .seconds(1)

    init(listener: Int32, channel: Channel, enforced: Bool) {
        self.listener = listener
        self.channel = channel
        self.enforced = enforced
    }

    /// Starts answering on a thread of its own.
    func start() {
        let created = startDetachedThread(name: "syscall-filter") { [self] in serve() }
        if created != 0 {
            // Nobody would answer: every stopped call would wait for ever.
            diagnose("sandbox: cannot start the syscall filter's listener thread: \(String(cString: strerror(created)))")
            finish(.sandboxFailed)
        }
    }

    private func serve() {
        while true {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let waiting = entries.withLock { $0.values.contains { $0.count > $0.sent } }
            let ready = poll(&descriptor, 1, waiting ? Int32(Self.interval.components.seconds * 1000) : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if ready == 0 {
                flush()
                continue
            }
            if descriptor.revents & Int16(POLLIN) == 0 {
                flush()
                return
            }
            var notice = ciot_seccomp_notice()
            guard ciot_seccomp_receive(listener, &notice) == 0 else {
                // ENOENT: the caller died before it was received.
                if errno == EINTR || errno == ENOENT { continue }
                return
            }
            // Counted (and the first of each call reported) before the caller sees its answer, so
            // the host hears of a denial before anything the module does about it.
            count(Self.describe(notice))
            _ = ciot_seccomp_respond(listener, notice.id, enforced ? 0 : 1)
        }
    }

    static func describe(_ notice: ciot_seccomp_notice) -> String {
        var copy = notice
        var buffer = [CChar](repeating: 0, count: 128)
        ciot_seccomp_describe(&copy, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func count(_ call: String) {
        let now = ContinuousClock.now
        let due: (String, UInt32)? = entries.withLock { entries in
            let key = entries[call] != nil || entries.count < Self.maxCalls ? call : "other"
            var entry = entries[key, default: Entry()]
            entry.count &+= 1
            defer { entries[key] = entry }
            if let last = entry.lastSent, now - last < Self.interval { return nil }
            entry.sent = entry.count
            entry.lastSent = now
            return (key, entry.count)
        }
        if let (call, count) = due { send(call, count) }
    }

    /// Sends every count the host has not heard yet (also when the run ends).
    func flush() {
        let now = ContinuousClock.now
        let due: [(String, UInt32)] = entries.withLock { entries in
            var due: [(String, UInt32)] = []
            for (call, var entry) in entries where entry.count > entry.sent {
                entry.sent = entry.count
                entry.lastSent = now
                entries[call] = entry
                due.append((call, entry.count))
            }
            return due
        }
        for (call, count) in due { send(call, count) }
    }

    private func send(_ call: String, _ count: UInt32) {
        // The host is gone or does not read: the call was answered all the same.
        try? channel.send(.syscallDenied(call: call, count: count, enforced: enforced), timeout: .seconds(2))
    }
}
