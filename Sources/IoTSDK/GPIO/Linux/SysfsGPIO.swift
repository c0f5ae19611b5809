#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import Logging

/// GPIO through the legacy sysfs interface (`/sys/class/gpio`): export, direction, value,
/// active_low and edge with poll(2). For kernels or containers without the character device.
///
/// The GPIO number of a line is `base + offset`, with `base` read from the chip's sysfs
/// directory: kernels since 6.6 hand out bases from 512, so a number is never assumed.
/// Bias, drive modes and debounce do not exist in sysfs; asking for them is an error that says so.
public struct SysfsGPIO: GPIOBackend {
    public let paths: LinuxPaths
    let logger: Logger
    /// How long to wait for udev to make a freshly exported line's files accessible.
    public var exportPermissionTimeout: Duration

    public init(paths: LinuxPaths = .system, logger: Logger = Logger(label: "iotsdk.gpio"),
                exportPermissionTimeout: Duration = .seconds(2)) {
        self.paths = paths
        self.logger = logger
        self.exportPermissionTimeout = exportPermissionTimeout
    }

    public var kind: GPIOBackendKind { .sysfs }

    public static func isAvailable(paths: LinuxPaths) -> Bool {
        Files.exists(paths.sys("class/gpio/export"))
    }

    var classDirectory: String { paths.sys("class/gpio") }

    // MARK: - Discovery

    public func chips() throws(HardwareError) -> [GPIOChipInfo] {
        let directories = SysfsChipDirectory.list(paths: paths)
        if directories.isEmpty && !Self.isAvailable(paths: paths) {
            throw HardwareError(.unsupported, "\(classDirectory) does not exist: this kernel was built without CONFIG_GPIO_SYSFS; use the character device backend", location: classDirectory)
        }
        // Where the character device exists too, name the chips as it does (gpiochipN) so that
        // both backends agree; sysfs alone only knows gpiochip<base>.
        var byLabel: [String: [GPIOChipInfo]] = [:]
        if CharacterDeviceGPIO.isAvailable(paths: paths),
           let cdevChips = try? CharacterDeviceGPIO(paths: paths, logger: logger).chips() {
            for chip in cdevChips { byLabel[chip.label, default: []].append(chip) }
        }
        return directories.map { dir in
            if let chip = byLabel[dir.label]?.first(where: { $0.sysfsBase == dir.base }) {
                return chip
            }
            return GPIOChipInfo(name: dir.name, label: dir.label, lineCount: dir.lineCount, sysfsPath: dir.path, sysfsBase: dir.base)
        }
    }

    public func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        let number = try gpioNumber(chip, offset)
        // The character device knows names and consumers; sysfs knows only exported lines.
        if chip.devicePath != nil, let info = try? CharacterDeviceGPIO(paths: paths, logger: logger).lineInfo(chip: chip, offset: offset) {
            return info
        }
        var info = GPIOLineInfo(chip: chip.name, offset: offset)
        let dir = classDirectory + "/gpio\(number)"
        guard Files.exists(dir) else { return info }
        info.isUsed = true
        info.consumer = "sysfs"
        info.direction = Files.readAttributeIfPresent(dir + "/direction") == "out" ? .output : .input
        info.activeLow = Files.readAttributeIfPresent(dir + "/active_low") == "1"
        switch Files.readAttributeIfPresent(dir + "/edge") {
        case "rising": info.edge = .rising
        case "falling": info.edge = .falling
        case "both": info.edge = .both
        default: info.edge = .none
        }
        return info
    }

    func gpioNumber(_ chip: GPIOChipInfo, _ offset: UInt32) throws(HardwareError) -> Int {
        guard let base = chip.sysfsBase else {
            throw HardwareError(.unsupported, "\(chip.name) [\(chip.label)] is not in \(classDirectory): the kernel lacks CONFIG_GPIO_SYSFS; use the character device backend", location: chip.name)
        }
        guard Int(offset) < chip.lineCount else {
            throw HardwareError(.notFound, "\(chip.name) [\(chip.label)] has no line \(offset): its lines are 0-\(chip.lineCount - 1)", location: chip.name)
        }
        return base + Int(offset)
    }

    // MARK: - Requests

    public func requestLines(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String) throws(HardwareError) -> any GPIOLineHandle {
        for (offset, s) in zip(offsets, settings) {
            try Self.checkSupported(s, line: "\(chip.name) line \(offset)")
        }
        var exports: [SysfsExport] = []
        var values: [OwnedDescriptor] = []
        do {
            for (offset, s) in zip(offsets, settings) {
                let line = try export(chip: chip, offset: offset)
                exports.append(line)
                try line.configure(s, initial: true)
                values.append(try line.openValue(timeout: exportPermissionTimeout))
            }
        } catch {
            values.forEach { $0.close() }
            exports.forEach { $0.unexport() }
            throw error
        }
        let lines = zip(exports, values).map { SysfsLine(export: $0, value: $1) }
        logger.debug("exported lines", metadata: ["chip": "\(chip.name)", "numbers": "\(exports.map(\.number))"])
        return SysfsLineHandle(lines: lines, chip: chip, settings: settings)
    }

    static func checkSupported(_ s: LineSettings, line: String) throws(HardwareError) {
        var missing: [String] = []
        if s.bias != nil { missing.append("bias") }
        if s.drive != .pushPull { missing.append("open-drain/open-source drive") }
        if s.debounce != nil { missing.append("debounce") }
        if s.eventClock == .realtime && s.edge != .none { missing.append("realtime event timestamps") }
        if !missing.isEmpty {
            throw HardwareError(.unsupported, "\(line): the sysfs interface cannot set \(missing.joined(separator: ", ")); use the character device backend (GPIO.linux(.characterDevice)) or set it in the device tree", location: line)
        }
    }

    private func export(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> SysfsExport {
        let number = try gpioNumber(chip, offset)
        let dir = classDirectory + "/gpio\(number)"
        do {
            try Files.write(String(number), to: classDirectory + "/export", what: "exporting GPIO \(number)", permissionAdvice: GPIOAdvice.permission)
        } catch let error where error.code == .busy || error.errno == EBUSY {
            if Files.exists(dir) {
                throw HardwareError(.busy, "GPIO \(number) (\(chip.name) line \(offset)) is already exported: another program uses it, or an earlier run did not clean up (echo \(number) > \(classDirectory)/unexport)", errno: EBUSY, location: dir)
            }
            var holder = "the character device or a kernel driver"
            if chip.devicePath != nil, let info = try? CharacterDeviceGPIO(paths: paths, logger: logger).lineInfo(chip: chip, offset: offset), let consumer = info.consumer {
                holder = "consumer '\(consumer)'"
            }
            throw HardwareError(.busy, "GPIO \(number) (\(chip.name) line \(offset)) is busy: held by \(holder)", errno: EBUSY, location: dir)
        } catch let error where error.errno == EINVAL {
            throw HardwareError(.notFound, "the kernel refused to export GPIO \(number) (\(chip.name) line \(offset)): the number does not belong to a chip; base \(chip.sysfsBase ?? -1) may be stale", errno: EINVAL, location: dir)
        }
        return SysfsExport(number: number, offset: offset, directory: dir, classDirectory: classDirectory)
    }
}

/// An exported sysfs line's directory: `gpio<N>` with its direction, active_low, edge files.
struct SysfsExport: Sendable {
    let number: Int
    let offset: UInt32
    let directory: String
    let classDirectory: String
    /// False for a line the plugin host exported and handed over: the host unexports it.
    var unexportsOnRelease = true

    /// Opens `value`, waiting out the moment after export when udev has not yet handed the
    /// files to the gpio group.
    func openValue(timeout: Duration) throws(HardwareError) -> OwnedDescriptor {
        let path = directory + "/value"
        return try Self.retryingPermission(timeout: timeout) { () throws(HardwareError) in
            try OwnedDescriptor.open(path, O_RDWR, what: "opening the value file", permissionAdvice: GPIOAdvice.permission)
        }
    }

    func configure(_ s: LineSettings, initial: Bool) throws(HardwareError) {
        try writeAttribute("active_low", s.activeLow ? "1" : "0")
        switch s.direction {
        case .output:
            // "high"/"low" set direction and level in one step; they are raw levels.
            let raw = s.initialValue.isActive != s.activeLow
            if initial || Files.readAttributeIfPresent(directory + "/direction") != "out" {
                try writeAttribute("direction", raw ? "high" : "low")
            }
        case .input:
            try writeAttribute("direction", "in")
            let edge: String
            switch s.edge {
            case .none: edge = "none"
            case .rising: edge = "rising"
            case .falling: edge = "falling"
            case .both: edge = "both"
            }
            if s.edge != .none || Files.exists(directory + "/edge") {
                do {
                    try writeAttribute("edge", edge)
                } catch let error where s.edge != .none {
                    throw HardwareError(.unsupported, "GPIO \(number) cannot report edges through sysfs (its chip has no interrupt for it)", errno: error.errno, location: directory)
                } catch {}
            }
        }
    }

    private func writeAttribute(_ name: String, _ text: String) throws(HardwareError) {
        let path = directory + "/" + name
        try Self.retryingPermission(timeout: .seconds(2)) { () throws(HardwareError) in
            try Files.write(text, to: path, what: "setting \(name) of GPIO \(number)", permissionAdvice: GPIOAdvice.permission)
        }
    }

    /// Right after export, udev may not yet have given the new files to the gpio group: retry
    /// permission and not-found errors until `timeout`.
    static func retryingPermission<R>(timeout: Duration, _ body: () throws(HardwareError) -> R) throws(HardwareError) -> R {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            do {
                return try body()
            } catch let error where error.code == .permissionDenied || error.code == .notFound {
                if clock.now >= deadline { throw error }
                usleep(10_000)
            }
        }
    }

    func unexport() {
        guard unexportsOnRelease else { return }
        try? Files.write(String(number), to: classDirectory + "/unexport", what: "unexporting GPIO \(number)")
    }
}
