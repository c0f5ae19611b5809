import LinuxSupport
/// The chips that the legacy sysfs interface lists in `/sys/class/gpio/gpiochip<base>`.
struct SysfsChipDirectory: Sendable, Hashable {
    var name: String
    var path: String
    var label: String
    var lineCount: Int
    var base: Int
    /// The resolved directory, used to match a sysfs chip to its character device.
    var realPath: String?

    static func list(paths: LinuxPaths) -> [SysfsChipDirectory] {
        let root = paths.sys("class/gpio")
        return Files.list(root).filter { $0.hasPrefix("gpiochip") }.compactMap { name in
            let path = root + "/" + name
            guard let base = Files.readAttributeIfPresent(path + "/base").flatMap({ Int($0) }),
                  let count = Files.readAttributeIfPresent(path + "/ngpio").flatMap({ Int($0) }) else { return nil }
            return SysfsChipDirectory(name: name, path: path, label: Files.readAttributeIfPresent(path + "/label") ?? "",
                                      lineCount: count, base: base, realPath: Files.realPath(path))
        }.sorted { $0.base < $1.base }
    }

    /// Pairs each character-device chip with its sysfs directory.
    ///
    /// A sysfs chip directory lives below its GPIO device's directory
    /// (`…/gpio-sim.0/gpiochip1/gpio/gpiochip560`) or beside it, below the parent device
    /// (`…/gpio-sim.0/gpio/gpiochip560`), depending on the kernel. The first case matches by path;
    /// the second by parent, label and line count, and by order when several remain.
    static func match(chip name: String, label: String, lineCount: Int, paths: LinuxPaths,
                      among candidates: [SysfsChipDirectory], taken: Set<String>) -> SysfsChipDirectory? {
        let free = candidates.filter { !taken.contains($0.name) }
        guard let devicePath = Files.realPath(paths.sys("bus/gpio/devices/" + name)) else {
            let same = free.filter { $0.label == label && $0.lineCount == lineCount }
            return same.first
        }
        if let direct = free.first(where: { $0.realPath?.hasPrefix(devicePath + "/") == true }) {
            return direct
        }
        let parent = parentDirectory(devicePath)
        return free.first { candidate in
            guard candidate.label == label, candidate.lineCount == lineCount, let real = candidate.realPath else { return false }
            // …/parent/gpio/gpiochipB → parent
            return parentDirectory(parentDirectory(real)) == parent
        } ?? free.first { $0.label == label && $0.lineCount == lineCount }
    }

    static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[..<slash])
    }
}
