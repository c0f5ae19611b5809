// gpio-access and i2c-access: can this user open the device nodes without root? Group ownership
// of the nodes, the user's groups, and the udev rules that give the nodes to a group.

extension HardwareChecks {
    /// A kind of device node and the group that gives access to it.
    public struct DeviceClass: Sendable {
        public var checkID: String
        /// `gpiochip` for /dev/gpiochipN, `i2c-` for /dev/i2c-N.
        public var nodePrefix: String
        /// The group Raspberry Pi OS and Documentation/RaspberryPi.md's udev rule give the nodes to.
        public var group: String
        /// Text of a udev rule line that assigns these nodes (`KERNEL=="gpiochip*"`, `SUBSYSTEM=="i2c-dev"`).
        public var ruleMatches: [String]
        /// What a user without access cannot do, to decide the verdict: needed (FAIL) or not (warn).
        public var neededBySDKDemo: Bool

        public static let gpio = DeviceClass(checkID: "gpio-access", nodePrefix: "gpiochip", group: "gpio",
                                             ruleMatches: ["gpiochip", "SUBSYSTEM==\"gpio\""], neededBySDKDemo: true)
        public static let i2c = DeviceClass(checkID: "i2c-access", nodePrefix: "i2c-", group: "i2c",
                                            ruleMatches: ["i2c-dev", "KERNEL==\"i2c-"], neededBySDKDemo: false)
    }

    /// The udev rule directories, in the order udev reads them.
    static let udevRuleDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"]

    /// Whether the user can open every node of `device`, and if not, the fix: join the group, log
    /// in again, apply or install the udev rule. A FAIL only for GPIO under sdk-demo, which opens
    /// the nodes as the user; plugin-host runs as root, so there it is a warn.
    public static func access(_ system: DoctorSystem, _ device: DeviceClass, tool: DoctorTool) -> DoctorCheck {
        let nodes = system.entries("/dev").filter { $0.hasPrefix(device.nodePrefix) && Int($0.dropFirst(device.nodePrefix.count)) != nil }
            .map { "/dev/" + $0 }
        guard !nodes.isEmpty else {
            return DoctorCheck(device.checkID, .skip, "no \(system.path("/dev"))/\(device.nodePrefix)* to open")
        }
        let user = system.user
        if user.isRoot {
            return DoctorCheck(device.checkID, .ok, "running as root: \(nodes.count) node(s) \(system.path("/dev"))/\(device.nodePrefix)* open without a group")
        }
        let groups = system.groups
        func groupName(_ gid: UInt32) -> String { groups.first { $0.gid == gid }?.name ?? "gid \(gid)" }
        let statuses = nodes.compactMap { node in system.status(node).map { (node, $0) } }
        guard let (node, denied) = statuses.first(where: { !$0.1.allowsReadWrite(by: user) }) else {
            let owners = Set(statuses.map { "group \(groupName($0.1.gid)), mode \($0.1.octalPermissions)" }).sorted().joined(separator: "; ")
            return DoctorCheck(device.checkID, .ok, "\(user.description) can open \(nodes.count) node(s) \(system.path("/dev"))/\(device.nodePrefix)* (\(owners))")
        }
        let verdict: DoctorVerdict = tool == .sdkDemo && device.neededBySDKDemo ? .fail : .warn
        let nodeGroup = groupName(denied.gid)
        let what = "\(user.description) cannot open \(system.path(node)) (group \(nodeGroup), mode \(denied.octalPermissions))"
        let relogin = "log out and in again (or run newgrp \(device.group))"
        if nodeGroup == device.group {
            if let name = user.name, groups.first(where: { $0.name == device.group })?.members.contains(name) == true {
                return DoctorCheck(device.checkID, verdict, what + ": \(system.path("/etc/group")) lists you in group \(device.group), but this login session started before that", fix: relogin)
            }
            return DoctorCheck(device.checkID, verdict, what + ": you are not in group \(device.group)",
                               fix: "sudo usermod -aG \(device.group) $USER, then " + relogin)
        }
        if let rule = udevRule(system, device) {
            return DoctorCheck(device.checkID, verdict, what + ", although \(system.path(rule)) gives such nodes to a group: the rule has not been applied",
                               fix: "sudo udevadm control --reload && sudo udevadm trigger")
        }
        let addGroup = groups.contains { $0.name == device.group } ? "" : "sudo groupadd -f \(device.group) && "
        return DoctorCheck(device.checkID, verdict, what + ", and no udev rule gives these nodes to a group",
                           fix: "install the udev rule from Documentation/RaspberryPi.md as /etc/udev/rules.d/60-iotsdk.rules, then \(addGroup)sudo usermod -aG \(device.group) $USER && sudo udevadm control --reload && sudo udevadm trigger, and log in again")
    }

    /// The first rules file with a line that matches the device and sets GROUP=.
    static func udevRule(_ system: DoctorSystem, _ device: DeviceClass) -> String? {
        for directory in udevRuleDirectories {
            for file in system.entries(directory) where file.hasSuffix(".rules") {
                let path = directory + "/" + file
                let lines = (system.read(path) ?? "").split(whereSeparator: \.isNewline)
                if lines.contains(where: { line in
                    !line.hasPrefix("#") && line.contains("GROUP=") && device.ruleMatches.contains { line.contains($0) }
                }) {
                    return path
                }
            }
        }
        return nil
    }
}
