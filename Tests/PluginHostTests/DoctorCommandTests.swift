import Foundation
import Testing
import TestSupport

/// `plugin-host doctor`, `sdk-demo doctor` and `--version` as built: exit codes, text and JSON,
/// on simulated roots (what each check finds is in Tests/DoctorTests) and on this machine.
@Suite("doctor and --version on the command line")
struct DoctorCommandTests {
    static let hostIDs = ["gpio", "gpio-access", "gpio-lines", "i2c", "i2c-access", "runner", "root", "namespaces", "no_new_privs",
                          "cgroup-memory", "cgroup-pids", "cgroup-cpu", "state-dir", "trusted-keys", "key-scope"]
    static let demoIDs = Array(hostIDs.prefix(5))

    /// A simulated root holding `files` (absolute path inside the root → content).
    static func root(_ files: [String: String]) throws -> String {
        let root = try TestModule.temporaryDirectory("doctor-root")
        for (path, text) in files {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return root
    }

    /// A system with every namespace and no_new_privs, and no hardware: nothing the host needs is missing.
    static func healthyRoot() throws -> String {
        var files = ["/proc/self/status": "Name:\tplugin-host\nNoNewPrivs:\t0\n"]
        for name in ["mnt", "pid", "ipc", "uts", "net", "cgroup", "user"] { files["/proc/self/ns/" + name] = "" }
        return try root(files)
    }

    static func tools() throws -> (host: URL, demo: URL) {
        (try #require(Tool.pluginHost, "plugin-host was not built next to the tests"),
         try #require(Tool.built("sdk-demo"), "sdk-demo was not built next to the tests"))
    }

    /// The report's checks, by id.
    static func checks(_ json: String) throws -> [String: [String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let checks = try #require(object["checks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: checks.map { ($0["id"] as? String ?? "?", $0) })
    }

    @Test("--version: plugin-host and sdk-demo print the one version")
    func version() throws {
        let (host, demo) = try Self.tools()
        let hostVersion = try Tool.run(host, ["--version"])
        let demoVersion = try Tool.run(demo, ["--version"])
        #expect(hostVersion.status == 0 && demoVersion.status == 0)
        #expect(hostVersion.stdout.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression) != nil, "\(hostVersion.stdout)")
        #expect(hostVersion.stdout == demoVersion.stdout)
    }

    @Test("plugin-host doctor exits 0 when nothing needed is missing (warnings allowed), every check in the JSON")
    func hostHealthy() throws {
        let (host, _) = try Self.tools()
        let root = try Self.healthyRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try Tool.run(host, ["doctor", "--root", root, "--state-dir", root + "/state", "--json"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let checks = try Self.checks(result.stdout)
        #expect(Set(checks.keys) == Set(Self.hostIDs))
        #expect(checks.values.allSatisfy { $0["verdict"] as? String != "fail" })
        #expect(checks["namespaces"]?["verdict"] as? String == "ok")
        #expect(checks["runner"]?["verdict"] as? String == "ok")
        #expect(checks["trusted-keys"]?["fix"] as? String == "plugin-host trust add release.key.pub --state-dir \(root)/state")
    }

    @Test("plugin-host doctor exits 1 when something needed is missing (no /proc: no namespaces; the state directory is a file)")
    func hostFails() throws {
        let (host, _) = try Self.tools()
        let root = try Self.root(["/var/lib/plugin-host": "not a directory"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try Tool.run(host, ["doctor", "--root", root])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("FAIL  namespaces     no \(root)/proc/self/ns: /proc is not mounted") }, "\(result.stdout)")
        #expect(lines.contains { $0 == "FAIL  state-dir      \(root)/var/lib/plugin-host is not a directory — fix: move it away, or pass --state-dir a directory you may write" },
                "\(result.stdout)")
        #expect(lines.last?.hasSuffix("something needed is missing (exit 1)") == true)
    }

    @Test("sdk-demo doctor: no GPIO is a warn (the simulated board), exit 0; a Raspberry Pi without GPIO is a FAIL, exit 1")
    func demo() throws {
        let (_, demo) = try Self.tools()
        let empty = try Self.root([:])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let simulated = try Tool.run(demo, ["doctor", "--root", empty])
        #expect(simulated.status == 0, "\(simulated.stdout)\(simulated.stderr)")
        #expect(simulated.stdout.contains("warn  gpio         no GPIO (no \(empty)/dev/gpiochip* and no \(empty)/sys/class/gpio): sdk-demo will use the simulated board"), "\(simulated.stdout)")
        #expect(!simulated.stdout.contains("namespaces"))

        let pi = try Self.root(["/proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\0", "/boot/firmware/config.txt": "dtparam=i2c_arm=on\n"])
        defer { try? FileManager.default.removeItem(atPath: pi) }
        let broken = try Tool.run(demo, ["doctor", "--root", pi, "--json"])
        #expect(broken.status == 1, "\(broken.stdout)\(broken.stderr)")
        let checks = try Self.checks(broken.stdout)
        #expect(Set(checks.keys) == Set(Self.demoIDs))
        #expect(checks["gpio"]?["verdict"] as? String == "fail")
        #expect(checks["i2c"]?["fix"] as? String == "sudo reboot")
    }

    @Test("--root that is not a directory is a usage error (64)")
    func badRoot() throws {
        let (host, demo) = try Self.tools()
        for tool in [host, demo] {
            let result = try Tool.run(tool, ["doctor", "--root", "/nonexistent/doctor-root"])
            #expect(result.status == 64)
            #expect(result.stderr.contains("--root /nonexistent/doctor-root is not a directory"), "\(result.stderr)")
        }
    }

    /// The commands Documentation/Troubleshooting.md shows, run as they are (doctor only reads).
    @Test("on this machine: every check has a line, and the exit code is 1 exactly when one says FAIL")
    func thisMachine() throws {
        let (host, demo) = try Self.tools()
        for (tool, arguments, ids) in [(host, ["doctor"], Self.hostIDs), (host, ["doctor", "--state-dir", "/tmp/ph"], Self.hostIDs),
                                       (demo, ["doctor"], Self.demoIDs)] {
            let result = try Tool.run(tool, arguments)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            print(result.stdout)
            #expect(lines.count == ids.count + 1, "\(result.stdout)")
            for (line, id) in zip(lines, ids) {
                #expect(["ok    ", "warn  ", "FAIL  ", "skip  "].contains(String(line.prefix(6))) && line.dropFirst(6).hasPrefix(id + " "), "\(line)")
            }
            let failed = lines.contains { $0.hasPrefix("FAIL  ") }
            #expect(result.status == (failed ? 1 : 0), "\(result.stdout)")
            #expect(lines.last?.hasSuffix("(exit \(result.status))") == true)
            let json = try Tool.run(tool, arguments + ["--json"])
            #expect(json.status == result.status)
            #expect(Set(try Self.checks(json.stdout).keys) == Set(ids))
        }
    }
}
