#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import IoTSDK

/// The system the checks look at: the running one (root `/`), or a directory standing in for it
/// with its own `dev/`, `sys/`, `proc/`, `etc/` and `boot/` (a simulated root in the tests, or a
/// device image mounted somewhere). Every path a check reads goes through `path(_:)`.
public struct DoctorSystem: Sendable {
    /// `/` or the directory that stands in for it (without a trailing slash).
    public let root: String
    /// Whose access the checks judge (device nodes, the state directory).
    public var user: DoctorUser

    public init(root: String = "/", user: DoctorUser = .current()) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed.isEmpty ? "/" : trimmed
        self.user = user
    }

    /// Why `root` cannot be checked (for `--root`), or nil.
    public static func problem(withRoot root: String) -> String? {
        guard FileStatus.at(root)?.isDirectory == true else {
            return "--root \(root) is not a directory: give the directory that holds the system's dev/, sys/, proc/, etc/ and boot/"
        }
        return nil
    }

    /// True when `root` is not `/`: no real kernel behind the files, so nothing is probed.
    public var isSimulated: Bool { root != "/" }

    /// An absolute path of the system (`/dev/gpiochip0`) as a path on this machine.
    public func path(_ absolute: String) -> String {
        isSimulated ? root + absolute : absolute
    }

    /// The `/sys` and `/dev` of the system, for IoTSDK's Linux backends.
    public var linuxPaths: LinuxPaths { LinuxPaths(sysfs: path("/sys"), dev: path("/dev")) }

    // MARK: - Files

    /// The whole file (kernel files too), or nil.
    public func read(_ absolute: String) -> String? {
        FileManager.default.contents(atPath: path(absolute)).map { String(decoding: $0, as: UTF8.self) }
    }

    public func exists(_ absolute: String) -> Bool {
        FileManager.default.fileExists(atPath: path(absolute))
    }

    /// The names in a directory, sorted; empty when it does not exist.
    public func entries(_ absolute: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(absolute))) ?? []).sorted()
    }

    /// stat(2) of the path (links followed), or nil.
    public func status(_ absolute: String) -> FileStatus? {
        FileStatus.at(path(absolute))
    }

    /// The board's name from the device tree (`Raspberry Pi 4 Model B Rev 1.4`), or nil.
    public var boardModel: String? {
        guard let text = read("/proc/device-tree/model") ?? read("/sys/firmware/devicetree/base/model") else { return nil }
        let model = String(text.unicodeScalars.filter { $0 != "\0" && $0 != "\n" })
        return model.isEmpty ? nil : model
    }

    public var isRaspberryPi: Bool { boardModel?.contains("Raspberry Pi") == true }

    /// `/etc/group` of the system.
    public var groups: [GroupEntry] {
        (read("/etc/group") ?? "").split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, let gid = UInt32(fields[2]) else { return nil }
            return GroupEntry(name: String(fields[0]), gid: gid, members: fields[3].split(separator: ",").map(String.init))
        }
    }
}

/// A line of `/etc/group`.
public struct GroupEntry: Sendable, Equatable {
    public var name: String
    public var gid: UInt32
    public var members: [String]
}

/// The parts of stat(2) the checks use.
public struct FileStatus: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The permission bits (0o660).
    public var permissions: UInt32
    public var isDirectory: Bool
    public var isCharacterDevice: Bool

    /// stat(2) of a path on this machine (links followed), or nil.
    public static func at(_ path: String) -> FileStatus? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStatus(info)
    }

    init(_ info: stat) {
        uid = info.st_uid
        gid = info.st_gid
        permissions = UInt32(info.st_mode) & 0o7777
        isDirectory = info.st_mode & S_IFMT == S_IFDIR
        isCharacterDevice = info.st_mode & S_IFMT == S_IFCHR
    }

    /// Whether `user` may read and write the file, from its owner, group and mode (root may).
    public func allowsReadWrite(by user: DoctorUser) -> Bool {
        if user.uid == 0 { return true }
        if uid == user.uid { return permissions & 0o600 == 0o600 }
        if user.groupIDs.contains(gid) { return permissions & 0o060 == 0o060 }
        return permissions & 0o006 == 0o006
    }

    /// `0660`.
    public var octalPermissions: String {
        let digits = String(permissions & 0o777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// A user and the groups of their session (the process's supplementary groups, which change only
/// at the next login, not when `/etc/group` does).
public struct DoctorUser: Sendable, Equatable {
    public var uid: UInt32
    public var name: String?
    /// The primary and supplementary group ids.
    public var groupIDs: Set<UInt32>

    public init(uid: UInt32, name: String?, groupIDs: Set<UInt32>) {
        self.uid = uid
        self.name = name
        self.groupIDs = groupIDs
    }

    /// This process's effective user and groups.
    public static func current() -> DoctorUser {
        let uid = geteuid()
        var ids: Set<UInt32> = [getegid()]
        let count = getgroups(0, nil)
        if count > 0 {
            var list = [gid_t](repeating: 0, count: Int(count))
            let got = getgroups(count, &list)
            if got > 0 { ids.formUnion(list.prefix(Int(got))) }
        }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let name: String? = getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0 && result != nil
            ? String(cString: entry.pw_name) : nil
        return DoctorUser(uid: uid, name: name, groupIDs: ids)
    }

    public var isRoot: Bool { uid == 0 }

    /// `uid 1000 (pi)`.
    public var description: String { "uid \(uid)" + (name.map { " (\($0))" } ?? "") }
}
