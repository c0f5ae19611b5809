import Doctor
import DoctorTesting
import Foundation
import HostDoctor
import PluginHost
import Testing

@Suite("doctor: the host's checks")
struct HostCheckTests {
    /// The host checks on `fake`, by id; the state directory is inside the fake root unless given.
    static func checks(_ fake: FakeRoot, user: DoctorUser = FakeRoot.root, state: String? = nil, runner: String? = "/bin/sh",
                       probe: SandboxProbe? = nil) -> [String: DoctorCheck] {
        let checks = HostChecks.run(fake.system(as: user), stateDirectory: state ?? fake.path + "/var/lib/plugin-host", runner: runner, probe: probe)
        return Dictionary(uniqueKeysWithValues: checks.map { ($0.id, $0) })
    }

    /// cgroup v2 with every controller, as on Raspberry Pi OS Bookworm with cgroup_enable=memory.
    static func cgroupV2(_ fake: FakeRoot, controllers: String = "cpuset cpu io memory pids") throws {
        try fake.write("/sys/fs/cgroup/cgroup.controllers", controllers + "\n")
        try fake.write("/sys/fs/cgroup/cgroup.subtree_control")
        try fake.write("/sys/fs/cgroup/cgroup.procs")
    }

    @Test("runner: ok when executable; FAIL when missing or not executable")
    func runner() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        #expect(Self.checks(fake)["runner"] == DoctorCheck("runner", .ok, "/bin/sh"))
        let missing = try #require(Self.checks(fake, runner: nil)["runner"])
        #expect(missing.verdict == .fail)
        #expect(missing.fix == "install plugin-host-runner in the same directory as plugin-host, or set PLUGIN_HOST_RUNNER to its path")
        try fake.write("/usr/bin/plugin-host-runner", "", mode: 0o644)
        let plain = try #require(Self.checks(fake, runner: fake.path + "/usr/bin/plugin-host-runner")["runner"])
        #expect(plain.verdict == .fail, "\(plain)") // no execute bit at all: not even root may run it
        #expect(plain.fix == "sudo chmod 755 \(fake.path)/usr/bin/plugin-host-runner")
    }

    @Test("root: ok as root, warn otherwise with the command to check as root")
    func root() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        #expect(Self.checks(fake)["root"]?.verdict == .ok)
        let user = try #require(Self.checks(fake, user: DoctorUser(uid: 1000, name: "pi", groupIDs: [1000]))["root"])
        #expect(user.verdict == .warn)
        #expect(user.found.hasPrefix("running as uid 1000 (pi): the host needs root"))
        #expect(user.fix == "sudo plugin-host doctor")
    }

    @Test("namespaces: ok from /proc/self/ns; probed ok; FAIL without net; warn without cgroup only; FAIL refused; FAIL without /proc")
    func namespaces() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let noProc = try #require(Self.checks(fake)["namespaces"])
        #expect(noProc.verdict == .fail)
        #expect(noProc.found.hasPrefix("no \(fake.path)/proc/self/ns: /proc is not mounted"))
        #expect(noProc.fix == "sudo mount -t proc proc \(fake.path)/proc, or run the doctor on the booted device")

        try fake.proc()
        #expect(Self.checks(fake)["namespaces"] == DoctorCheck("namespaces", .ok, "mnt pid ipc uts net cgroup: the kernel has them (\(fake.path)/proc/self/ns); unshare not tried: a simulated root"))
        let probed = SandboxProbe(namespaces: ["mnt", "pid", "ipc", "uts", "net", "cgroup", "user"].map { .init(name: $0, refusal: nil) },
                                  noNewPrivilegesRefusal: nil)
        #expect(Self.checks(fake, probe: probed)["namespaces"] == DoctorCheck("namespaces", .ok, "mnt pid ipc uts net cgroup: unshare works (probed)"))

        let refused = SandboxProbe(namespaces: [.init(name: "mnt", refusal: nil), .init(name: "pid", refusal: "unshare: Operation not permitted")],
                                   noNewPrivilegesRefusal: nil)
        let container = try #require(Self.checks(fake, probe: refused)["namespaces"])
        #expect(container.verdict == .fail)
        #expect(container.found == "missing: pid (unshare was refused (probed): unshare: Operation not permitted): modules cannot be isolated")
        #expect(container.fix?.hasPrefix("run the host as root on the device itself") == true)

        try FileManager.default.removeItem(atPath: fake.path + "/proc/self/ns/cgroup")
        let noCgroup = try #require(Self.checks(fake)["namespaces"])
        #expect(noCgroup.verdict == .warn)
        #expect(noCgroup.found.hasPrefix("missing: cgroup (the kernel lacks it"), "\(noCgroup)")
        try FileManager.default.removeItem(atPath: fake.path + "/proc/self/ns/net")
        let noNet = try #require(Self.checks(fake)["namespaces"])
        #expect(noNet.verdict == .fail)
        #expect(noNet.fix?.contains("CONFIG_NET_NS") == true)
    }

    @Test("no_new_privs: ok with the NoNewPrivs line; warn without it; FAIL when the probe is refused")
    func noNewPrivs() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        try fake.proc()
        #expect(Self.checks(fake)["no_new_privs"]?.verdict == .ok)
        let refused = try #require(Self.checks(fake, probe: SandboxProbe(namespaces: [], noNewPrivilegesRefusal: "prctl: Invalid argument"))["no_new_privs"])
        #expect(refused.verdict == .fail)
        #expect(refused.found.hasPrefix("no_new_privs refused prctl: Invalid argument"))
        try fake.proc(noNewPrivs: false)
        let old = try #require(Self.checks(fake)["no_new_privs"])
        #expect(old.verdict == .warn)
        #expect(old.fix == "boot Linux 4.10 or later, which shows NoNewPrivs in /proc/self/status")
    }

    @Test("cgroups: ok on v2 and on v1; a Raspberry Pi without the memory controller warns with the cmdline.txt fix")
    func cgroups() throws {
        let v2 = try FakeRoot()
        defer { v2.cleanUp() }
        try Self.cgroupV2(v2)
        let checks = Self.checks(v2)
        for controller in ["memory", "pids", "cpu"] {
            #expect(checks["cgroup-" + controller] == DoctorCheck("cgroup-" + controller, .ok, "cgroup v2 at \(v2.path)/sys/fs/cgroup"))
        }

        let v1 = try FakeRoot()
        defer { v1.cleanUp() }
        for name in ["memory", "pids", "cpu,cpuacct"] { try v1.write("/sys/fs/cgroup/\(name)/cgroup.procs") }
        #expect(Self.checks(v1)["cgroup-cpu"] == DoctorCheck("cgroup-cpu", .ok, "cgroup v1 at \(v1.path)/sys/fs/cgroup/cpu,cpuacct"))

        let pi = try FakeRoot()
        defer { pi.cleanUp() }
        try Self.cgroupV2(pi, controllers: "cpuset cpu io pids")
        try pi.write("/proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t1\t1\nmemory\t0\t1\t0\npids\t0\t1\t1\n")
        try pi.write("/proc/cmdline", "console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 rootwait\n")
        try pi.write("/proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\0")
        let memory = try #require(Self.checks(pi)["cgroup-memory"])
        #expect(memory.verdict == .warn)
        #expect(memory.found.hasPrefix("disabled (\(pi.path)/proc/cgroups says enabled 0) and the kernel command line (\(pi.path)/proc/cmdline) lacks cgroup_enable=memory: this is a Raspberry Pi 4 Model B Rev 1.4"), "\(memory)")
        #expect(memory.found.hasSuffix("modules run without their memory limit"))
        #expect(memory.fix == "add `cgroup_enable=memory cgroup_memory=1` to the single line of /boot/firmware/cmdline.txt (/boot/cmdline.txt before Raspberry Pi OS Bookworm) and reboot")
        #expect(Self.checks(pi)["cgroup-pids"]?.verdict == .ok)
    }

    @Test("state-dir: ok writable (with modules counted), ok to be made, FAIL not a directory, FAIL cannot be made")
    func stateDirectory() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let state = fake.path + "/var/lib/plugin-host"
        #expect(Self.checks(fake)["state-dir"] == DoctorCheck("state-dir", .ok, "\(state) does not exist yet; it is made on first use (\(fake.path) is writable)"))
        try fake.directory("/var/lib/plugin-host/modules/com.example.a")
        #expect(Self.checks(fake)["state-dir"] == DoctorCheck("state-dir", .ok, "\(state) is writable; 1 module(s) installed; no host runs on it"))
        try fake.write("/srv/state", "not a directory")
        let file = try #require(Self.checks(fake, state: fake.path + "/srv/state")["state-dir"])
        #expect(file == DoctorCheck("state-dir", .fail, "\(fake.path)/srv/state is not a directory", fix: "move it away, or pass --state-dir a directory you may write"))
        let below = try #require(Self.checks(fake, state: fake.path + "/srv/state/host")["state-dir"])
        #expect(below.verdict == .fail)
        #expect(below.found == "\(fake.path)/srv/state/host does not exist and cannot be made: \(fake.path)/srv/state is not a writable directory")
    }

    @Test("trusted-keys: warn with none, ok listing the ids, FAIL for a file that is not a key")
    func trustedKeys() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let state = fake.path + "/var/lib/plugin-host"
        let none = try #require(Self.checks(fake)["trusted-keys"])
        #expect(none.verdict == .warn)
        #expect(none.fix == "plugin-host trust add release.key.pub --state-dir \(state)")
        let key = ModuleSigningKey().publicKey
        try TrustStore(stateDirectory: state).add(key)
        #expect(Self.checks(fake)["trusted-keys"] == DoctorCheck("trusted-keys", .ok, "1 trusted key(s) in \(state)/trust: \(key.keyID)"))
        try fake.write("/var/lib/plugin-host/trust/release.pub", "not a key\n")
        let broken = try #require(Self.checks(fake)["trusted-keys"])
        #expect(broken.verdict == .fail)
        #expect(broken.found.hasPrefix("\(state)/trust/release.pub is not named <keyid>.pub"), "\(broken)")
        #expect(Self.checks(fake)["key-scope"]?.verdict == .warn)
    }

    @Test("key-scope: warn for a key that may sign any module and for an expired one, naming the command; ok when every key is scoped")
    func keyScope() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let state = fake.path + "/var/lib/plugin-host"
        let store = TrustStore(stateDirectory: state)
        #expect(Self.checks(fake)["key-scope"] == DoctorCheck("key-scope", .ok, "no trusted keys, so none may sign any module"))

        let key = ModuleSigningKey().publicKey
        try store.add(key)
        #expect(Self.checks(fake)["key-scope"] == DoctorCheck("key-scope", .warn, "key \(key.keyID) may sign any module",
                                                               fix: "scope it with the modules its publisher makes: plugin-host trust add \(key.keyID) --modules '<id pattern>' --state-dir \(state)"))

        try store.add(key, modules: [try ModulePattern("com.example.*")], expires: try KeyExpiry("2099-12-31"))
        #expect(Self.checks(fake)["key-scope"] == DoctorCheck("key-scope", .ok, "\(key.keyID) may sign com.example.* until 2099-12-31"))
        #expect(Self.checks(fake)["trusted-keys"]?.verdict == .ok)

        try store.add(key, modules: [try ModulePattern("com.example.*")], expires: try KeyExpiry("2020-01-31"))
        let expired = try #require(Self.checks(fake)["key-scope"])
        #expect(expired.verdict == .warn)
        #expect(expired.found == "key \(key.keyID) expired after 2020-01-31: images it signed are refused")
        #expect(expired.fix == "renew a key still in use: plugin-host trust add \(key.keyID) --modules 'com.example.*' --expires <YYYY-MM-DD> --state-dir \(state), or remove it: plugin-host trust remove \(key.keyID) --state-dir \(state)")
    }
}
