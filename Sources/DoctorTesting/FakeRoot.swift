import Doctor
import Foundation

/// A simulated root in a temporary directory: the files of /dev, /sys, /proc, /etc and /boot that
/// the checks read, written as plain files. The testing kit of `Doctor` (its tests and the host's).
public struct FakeRoot {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` at `absolute` inside the root (`/dev/gpiochip0`), making the directories.
    public func write(_ absolute: String, _ text: String = "", mode: Int? = nil) throws {
        let url = URL(fileURLWithPath: path + absolute)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path) }
    }

    public func directory(_ absolute: String) throws {
        try FileManager.default.createDirectory(atPath: path + absolute, withIntermediateDirectories: true)
    }

    /// A Raspberry Pi 4: its device-tree model and its GPIO chip in sysfs (and, with `chardev`, a
    /// /dev/gpiochip0 standing in for the character device).
    public func raspberryPi4(chardev: Bool = true) throws {
        try write("/proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\0")
        try write("/sys/class/gpio/export")
        try write("/sys/class/gpio/gpiochip512/base", "512\n")
        try write("/sys/class/gpio/gpiochip512/ngpio", "58\n")
        try write("/sys/class/gpio/gpiochip512/label", "pinctrl-bcm2711\n")
        if chardev { try write("/dev/gpiochip0", mode: 0o660) }
    }

    /// /proc/self/ns with these namespaces, and /proc/self/status with or without NoNewPrivs.
    public func proc(namespaces: [String] = ["mnt", "pid", "ipc", "uts", "net", "cgroup", "user"], noNewPrivs: Bool = true) throws {
        try directory("/proc/self/ns")
        for name in namespaces { try write("/proc/self/ns/\(name)") }
        try write("/proc/self/status", "Name:\tplugin-host\nUmask:\t0022\n" + (noNewPrivs ? "NoNewPrivs:\t0\n" : "") + "Seccomp:\t0\n")
    }

    /// The file's group id, for an /etc/group that names it.
    public func groupID(of absolute: String) throws -> UInt32 {
        guard let id = (try FileManager.default.attributesOfItem(atPath: path + absolute)[.groupOwnerAccountID] as? NSNumber)?.uint32Value else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path + absolute])
        }
        return id
    }

    public var system: DoctorSystem { DoctorSystem(root: path, user: Self.root) }

    public func system(as user: DoctorUser) -> DoctorSystem { DoctorSystem(root: path, user: user) }

    public static let root = DoctorUser(uid: 0, name: "root", groupIDs: [0])

    public func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}
