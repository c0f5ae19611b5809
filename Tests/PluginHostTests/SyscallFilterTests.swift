import CIoTLinux
import Foundation
import ModuleProtocol
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

// The sandbox's syscall filter, tried as an attacker would: the escape probe
// (Tests/Fixtures/modules/escape_probe.c) runs as a hook in the real sandbox and tries each
// escape; the host counts what the filter stopped. Needs root and namespaces, as SandboxTests.

/// What the probe found, and what the host counted, after one run of `escape_probe`.
struct EscapeRun {
    let escapes: [String: String]
    let counts: [String: Int]
    let output: String
    let audit: [AuditEntry]
    let setup: SandboxSetup

    /// Runs the probe in a sandbox with `filter`, a declared I2C address 0x76, another module's
    /// data directory and a listener of the host's to aim at.
    static func run(filter: SandboxSpec.SyscallFilter) throws -> EscapeRun {
        var setup = try SandboxSetup(options: SandboxOptions(syscallFilter: filter))
        setup.i2c = [ModuleManifest.I2CBus(bus: 1, addresses: [0x76])]
        let other = try TestModule.temporaryDirectory("other-module-data")
        defer { try? FileManager.default.removeItem(atPath: other) }
        try "secret\n".write(toFile: other + "/secret", atomically: true, encoding: .utf8)
        let listener = try Loopback.listen()
        defer { close(listener.fd) }
        try "other_data=\(other)\nport=\(listener.port)\ni2c_declared=0x76\n"
            .write(toFile: setup.moduleDirectory + "/escape-targets", atomically: true, encoding: .utf8)
        let result = setup.hook("escape_probe")
        #expect(result.outcome == .succeeded, "\(result.output)")
        return EscapeRun(escapes: EscapeProbe.results(dataDirectory: setup.dataDirectory), counts: setup.runner.denials.counts(of: setup.moduleID), output: result.output,
                         audit: AuditLog(stateDirectory: setup.stateDirectory).entries(), setup: setup)
    }
}

@Suite("Syscall filter", .serialized, .enabled(if: SandboxEnvironment.shouldRun))
struct SyscallFilterTests {
    @Test("every escape is denied: the filter's with EPERM, each counted; namespaces, mounts and masks hold the rest")
    func escapesDenied() throws {
        let run = try EscapeRun.run(filter: .enforce)
        defer { run.setup.cleanUp() }
        let problems = EscapeProbe.problems(results: run.escapes, counts: run.counts, sysrqTrigger: FileManager.default.fileExists(atPath: "/proc/sysrq-trigger"))
        #expect(problems.isEmpty, "\(problems)\n\(run.output)")
        #expect(run.counts.keys.allSatisfy { !$0.contains("0x76)") }, "\(run.counts)")
        // Each denial is in the output and the audit log.
        #expect(run.output.contains("plugin-host: syscall filter: denied unshare(CLONE_NEWUSER) (EPERM), 1 time(s) in this run"), "\(run.output)")
        let audited = Set(run.audit.filter { $0.resource == "syscall" && $0.decision == "denied" }.map(\.request))
        let filtered = Set(EscapeProbe.filtered.map(\.call))
        #expect(audited == filtered, "\(audited.symmetricDifference(filtered))")
        // Nothing the module made is setuid or setgid on the host.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: run.setup.dataDirectory)) ?? [] {
            var info = stat()
            #expect(lstat(run.setup.dataDirectory + "/" + name, &info) == 0)
            #expect(info.st_mode & (S_ISUID | S_ISGID) == 0, "\(name) is setuid or setgid on the host")
        }
        if SandboxEnvironment.complete {
            #expect(SandboxOptions.refusals(in: run.output).isEmpty, "\(run.output)")
        }
    }

    @Test("log-only: the calls run, and are counted and audited as what the module would hit")
    func logOnly() throws {
        let run = try EscapeRun.run(filter: .log)
        defer { run.setup.cleanUp() }
        // A user namespace is what this kernel gives root without capabilities: it works unfiltered
        // (in a new process: unshare refuses it to a process with threads, as the runner's is).
        #expect(run.escapes["clone_user"] == "ok", "\(run.escapes)")
        #expect(run.escapes["unshare_user"] == "EINVAL", "\(run.escapes)")
        #expect(run.escapes["setuid_chmod"] == "ok", "\(run.escapes)")
        #expect(run.counts["clone(CLONE_NEWUSER)"] == 2, "\(run.counts)")
        #expect(run.counts["unshare(CLONE_NEWUSER)"] == 1, "\(run.counts)")
        #expect(run.counts["chmod(setuid)"] == 1, "\(run.counts)")
        #expect(run.output.contains("plugin-host: syscall filter: would deny unshare(CLONE_NEWUSER) (log-only mode, the call ran)"), "\(run.output)")
        #expect(run.audit.contains { $0.resource == "syscall" && $0.request == "unshare(CLONE_NEWUSER)" && $0.decision == "logged" }, "\(run.audit)")
        // Calls that other parts of the sandbox stop are still stopped there.
        #expect(run.escapes["mount"] == "EPERM")
        #expect(run.escapes["sys"] == "ENOENT")
    }

    @Test("the program: I2C addresses up to the spec's bound fit, more are refused with EINVAL")
    func programBounds() {
        func length(addresses count: Int) -> (Int32, Int32) {
            let addresses = (0..<count).map { UInt16(0x08 + $0) }
            return addresses.withUnsafeBufferPointer { buffer in
                var options = ciot_seccomp_options()
                options.action = CIOT_SECCOMP_DENY_ERRNO
                options.i2c_addresses = buffer.baseAddress
                options.i2c_address_count = buffer.count
                errno = 0
                let length = ciot_seccomp_program_length(&options)
                return (length, errno)
            }
        }
        let empty = length(addresses: 0)
        #expect(empty.0 > 100 && empty.0 < 400, "\(empty)")
        let full = length(addresses: SandboxSpec.maxI2CAddresses)
        #expect(full.0 == empty.0 + Int32(SandboxSpec.maxI2CAddresses), "\(full)")
        let over = length(addresses: SandboxSpec.maxI2CAddresses + 1)
        #expect(over == (-1, EINVAL))
    }
}

@Suite("Syscall filter in the running host", .enabled(if: SandboxEnvironment.shouldRun))
struct SyscallFilterHostTests {
    @Test("status shows what the filter stopped for each module, and the audit log has it")
    func statusCounts() throws {
        try SandboxEnvironment.ready()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat unshare-user"))
        let process = try HostRuntimeTests.startHost(f)
        defer { HostRuntimeTests.stop(process) }
        let counted = waitUntil(seconds: 20) {
            HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.first?.syscallDenials == ["unshare(CLONE_NEWUSER)": 1]
        }
        #expect(counted, "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))")
        let binary = try #require(Tool.pluginHost)
        let status = try Tool.run(binary, ["status", "--state-dir", f.state])
        #expect(status.stdout.contains("  syscalls stopped by the filter: unshare(CLONE_NEWUSER) ×1"), "\(status.stdout)")
        let audit = AuditLog(stateDirectory: f.state).entries()
        #expect(audit.contains { $0.module == UpdateFixture.id && $0.resource == "syscall" && $0.request == "unshare(CLONE_NEWUSER)" && $0.decision == "denied" },
                "\(audit)")
    }
}
