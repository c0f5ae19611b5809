import Doctor
import DoctorTesting
import Testing

@Suite("doctor: gpio-access and i2c-access")
struct AccessCheckTests {
    /// A user who owns none of the fake files (so only group and other bits decide).
    static func pi(groups: Set<UInt32>) -> DoctorUser { DoctorUser(uid: 4242, name: "pi", groupIDs: groups.union([4242])) }

    /// A root with /dev/gpiochip0 (mode given) and /etc/group naming the node's group `nodeGroup`.
    static func fake(mode: Int, nodeGroup: String, members: String = "", extraGroups: String = "") throws -> (FakeRoot, UInt32) {
        let fake = try FakeRoot()
        try fake.write("/dev/gpiochip0", mode: mode)
        let gid = try fake.groupID(of: "/dev/gpiochip0")
        try fake.write("/etc/group", "\(nodeGroup):x:\(gid):\(members)\n\(extraGroups)pi:x:4242:\n")
        return (fake, gid)
    }

    @Test("ok: root, or a member of the node's group with mode 0660")
    func allowed() throws {
        let (fake, gid) = try Self.fake(mode: 0o660, nodeGroup: "gpio", members: "pi")
        defer { fake.cleanUp() }
        let root = HardwareChecks.access(fake.system, .gpio, tool: .sdkDemo)
        #expect(root == DoctorCheck("gpio-access", .ok, "running as root: 1 node(s) \(fake.path)/dev/gpiochip* open without a group"))
        let member = HardwareChecks.access(fake.system(as: Self.pi(groups: [gid])), .gpio, tool: .sdkDemo)
        #expect(member == DoctorCheck("gpio-access", .ok, "uid 4242 (pi) can open 1 node(s) \(fake.path)/dev/gpiochip* (group gpio, mode 0660)"))
    }

    @Test("FAIL for sdk-demo, warn for plugin-host: not in group gpio; the fix is usermod")
    func notInGroup() throws {
        let (fake, _) = try Self.fake(mode: 0o660, nodeGroup: "gpio")
        defer { fake.cleanUp() }
        let system = fake.system(as: Self.pi(groups: []))
        let demo = HardwareChecks.access(system, .gpio, tool: .sdkDemo)
        #expect(demo.verdict == .fail)
        #expect(demo.found == "uid 4242 (pi) cannot open \(fake.path)/dev/gpiochip0 (group gpio, mode 0660): you are not in group gpio")
        #expect(demo.fix == "sudo usermod -aG gpio $USER, then log out and in again (or run newgrp gpio)")
        #expect(HardwareChecks.access(system, .gpio, tool: .pluginHost).verdict == .warn)
    }

    @Test("FAIL: added to the group in /etc/group, but the session predates it: log in again")
    func loginAgain() throws {
        let (fake, _) = try Self.fake(mode: 0o660, nodeGroup: "gpio", members: "alice,pi")
        defer { fake.cleanUp() }
        let check = HardwareChecks.access(fake.system(as: Self.pi(groups: [])), .gpio, tool: .sdkDemo)
        #expect(check.verdict == .fail)
        #expect(check.found.hasSuffix("\(fake.path)/etc/group lists you in group gpio, but this login session started before that"), "\(check)")
        #expect(check.fix == "log out and in again (or run newgrp gpio)")
    }

    @Test("FAIL: the node belongs to root although a udev rule gives it to gpio: reload and trigger udev")
    func ruleNotApplied() throws {
        let (fake, _) = try Self.fake(mode: 0o600, nodeGroup: "root", extraGroups: "gpio:x:997:pi\n")
        defer { fake.cleanUp() }
        try fake.write("/etc/udev/rules.d/60-iotsdk.rules", "# GPIO\nSUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\"\n")
        let check = HardwareChecks.access(fake.system(as: Self.pi(groups: [997])), .gpio, tool: .sdkDemo)
        #expect(check.verdict == .fail)
        #expect(check.found.hasSuffix("(group root, mode 0600), although \(fake.path)/etc/udev/rules.d/60-iotsdk.rules gives such nodes to a group: the rule has not been applied"), "\(check)")
        #expect(check.fix == "sudo udevadm control --reload && sudo udevadm trigger")
    }

    @Test("FAIL: no udev rule and no gpio group: install the documented rule, make the group, join it")
    func noRule() throws {
        let (fake, _) = try Self.fake(mode: 0o600, nodeGroup: "root")
        defer { fake.cleanUp() }
        try fake.write("/lib/udev/rules.d/50-udev-default.rules", "SUBSYSTEM==\"tty\", KERNEL==\"tty[0-9]*\", GROUP=\"tty\", MODE=\"0620\"\n")
        let check = HardwareChecks.access(fake.system(as: Self.pi(groups: [])), .gpio, tool: .sdkDemo)
        #expect(check.verdict == .fail)
        #expect(check.found.hasSuffix("and no udev rule gives these nodes to a group"), "\(check)")
        #expect(check.fix == "install the udev rule from Documentation/RaspberryPi.md as /etc/udev/rules.d/60-iotsdk.rules, then sudo groupadd -f gpio && sudo usermod -aG gpio $USER && sudo udevadm control --reload && sudo udevadm trigger, and log in again")
    }

    @Test("i2c-access: a warn at most (I2C is optional), with the i2c group; skip without nodes")
    func i2c() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        #expect(HardwareChecks.access(fake.system, .i2c, tool: .sdkDemo) == DoctorCheck("i2c-access", .skip, "no \(fake.path)/dev/i2c-* to open"))
        try fake.write("/dev/i2c-1", mode: 0o660)
        try fake.write("/etc/group", "i2c:x:\(try fake.groupID(of: "/dev/i2c-1")):\n")
        let check = HardwareChecks.access(fake.system(as: Self.pi(groups: [])), .i2c, tool: .sdkDemo)
        #expect(check.verdict == .warn)
        #expect(check.fix == "sudo usermod -aG i2c $USER, then log out and in again (or run newgrp i2c)")
    }
}
