#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModuleProtocol
import Synchronization

/// What the sandbox's syscall filter stopped, for each module since the host started: the calls
/// (`unshare(CLONE_NEWUSER)`, `ioctl(I2C_RDWR)`) and how many times. The sandbox's init of each
/// run reports them (`Message.syscallDenied`); `plugin-host status` shows them.
public final class SyscallDenials: Sendable {
    private let counts = Mutex<[String: [String: Int]]>([:])
    private let changeHandler = Mutex<(@Sendable () -> Void)?>(nil)

    public init() {}

    /// The calls stopped for `module`, with their counts.
    public func counts(of module: String) -> [String: Int] { counts.withLock { $0[module] ?? [:] } }

    /// Sets what is called after each change (the running host writes its status then).
    public func onChange(_ handler: @escaping @Sendable () -> Void) { changeHandler.withLock { $0 = handler } }

    func add(module: String, call: String, times: Int) {
        counts.withLock { $0[module, default: [:]][call, default: 0] += times }
        changeHandler.withLock { $0 }?()
    }

    /// `call ×N` for each call, the most frequent first.
    public static func summary(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    }
}

extension HardwareBroker {
    /// Records a `syscallDenied` report of this broker's run: `total` is the run's count so far
    /// for `call`, so a report that repeats it adds nothing. An audit line says what it added.
    /// - Returns: how many calls were new (0: nothing to report).
    func recordSyscallDenied(call: String, total: UInt32, enforced: Bool) -> UInt32 {
        let added = syscallTotals.withLock { totals -> UInt32 in
            let previous = totals[call] ?? 0
            guard total > previous else { return 0 }
            totals[call] = total
            return total - previous
        }
        guard added > 0 else { return 0 }
        denials?.add(module: moduleID, call: call, times: Int(added))
        audit.record(AuditEntry(time: Date().timeIntervalSince1970, module: moduleID, resource: "syscall", request: call,
                                decision: enforced ? "denied" : "logged",
                                reason: "the sandbox's syscall filter\(enforced ? "" : " (log-only mode: the call ran)"); \(added) more time(s), \(total) in this run"))
        return added
    }
}
