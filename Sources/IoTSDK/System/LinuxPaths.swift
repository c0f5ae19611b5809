/// Where the kernel's interfaces live. Every Linux backend takes one, so that tests can point the
/// SDK at a real kernel in a VM, at a copy of a device's sysfs, or at a simulated tree.
public struct LinuxPaths: Sendable, Hashable {
    /// The sysfs mount, normally `/sys`.
    public var sysfs: String
    /// The device directory, normally `/dev`.
    public var dev: String

    public init(sysfs: String = "/sys", dev: String = "/dev") {
        self.sysfs = sysfs
        self.dev = dev
    }

    /// The running system's `/sys` and `/dev`.
    public static let system = LinuxPaths()

    func sys(_ relative: String) -> String { sysfs + "/" + relative }
    func device(_ name: String) -> String { dev + "/" + name }
}
