import Doctor
import DoctorTesting
import Foundation
import Testing

@Suite("doctor: the report")
struct DoctorReportTests {
    static let checks = [
        DoctorCheck("gpio", .ok, "backend chardev"),
        DoctorCheck("i2c", .warn, "I2C is off", fix: "sudo raspi-config nonint do_i2c 0, then reboot"),
        DoctorCheck("state-dir", .fail, "/srv/x is not a directory", fix: "move it away"),
        DoctorCheck("gpio-lines", .skip, "cannot check"),
    ]

    @Test("one line per check with verdict, id, finding and fix; a summary; exit 1 exactly when a check failed")
    func text() {
        let report = DoctorReport(tool: "plugin-host", version: "0.1.0", root: "/", checks: Self.checks)
        #expect(report.exitCode == 1)
        #expect(report.text == """
        ok    gpio        backend chardev
        warn  i2c         I2C is off — fix: sudo raspi-config nonint do_i2c 0, then reboot
        FAIL  state-dir   /srv/x is not a directory — fix: move it away
        skip  gpio-lines  cannot check
        plugin-host doctor: 1 ok, 1 warn, 1 FAIL, 1 skip: something needed is missing (exit 1)
        """)
        let fine = DoctorReport(tool: "sdk-demo", version: "0.1.0", root: "/", checks: Self.checks.filter { $0.verdict != .fail })
        #expect(fine.exitCode == 0)
        #expect(fine.text.hasSuffix("sdk-demo doctor: 1 ok, 1 warn, 1 skip: nothing needed is missing (exit 0)"))
    }

    @Test("JSON: every field, verdicts in lower case, decodes back")
    func json() throws {
        let report = DoctorReport(tool: "sdk-demo", version: "0.1.0", root: "/tmp/root", checks: Self.checks)
        let text = try report.output(json: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["exitCode"] as? Int == 1)
        #expect(object["root"] as? String == "/tmp/root")
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.map { $0["verdict"] as? String } == ["ok", "warn", "fail", "skip"])
        #expect(try JSONDecoder().decode(DoctorReport.self, from: Data(text.utf8)) == report)
    }

    @Test("a root is a directory, kept without its trailing slash; paths inside it are prefixed")
    func roots() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        #expect(DoctorSystem.problem(withRoot: fake.path) == nil)
        #expect(DoctorSystem.problem(withRoot: fake.path + "/nowhere")?.hasPrefix("--root \(fake.path)/nowhere is not a directory") == true)
        let system = DoctorSystem(root: fake.path + "/", user: FakeRoot.root)
        #expect(system.root == fake.path)
        #expect(system.path("/dev/gpiochip0") == fake.path + "/dev/gpiochip0")
        #expect(DoctorSystem(root: "/", user: FakeRoot.root).path("/dev/gpiochip0") == "/dev/gpiochip0")
        #expect(!DoctorSystem(root: "/", user: FakeRoot.root).isSimulated)
    }

    @Test("the running system's files read whole, kernel files of size 0 too")
    func kernelFiles() {
        let system = DoctorSystem()
        #expect(system.read("/proc/self/status")?.contains("\nUid:") == true)
        #expect(system.user.uid == geteuid())
    }
}
