#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import CIoTLinux
import Logging

/// GPIO through the character device, uAPI v2 (`/dev/gpiochipN`, Linux 5.10+): line requests with
/// bias, drive, debounce and edge events carrying kernel timestamps and sequence numbers.
public struct CharacterDeviceGPIO: GPIOBackend {
    public let paths: LinuxPaths
    let logger: Logger

    public init(paths: LinuxPaths = .system, logger: Logger = Logger(label: "iotsdk.gpio")) {
        self.paths = paths
        self.logger = logger
    }

    public var kind: GPIOBackendKind { .characterDevice }

    /// Whether `dev` holds at least one GPIO character device.
    public static func isAvailable(paths: LinuxPaths) -> Bool {
        Files.list(paths.dev).contains { name in
            guard name.hasPrefix("gpiochip") else { return false }
            var info = stat()
            return stat(paths.device(name), &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR
        }
    }

    // MARK: - Discovery

    public func chips() throws(HardwareError) -> [GPIOChipInfo] {
        var seenDevices = Set<UInt64>()
        var result: [GPIOChipInfo] = []
        let sysfsChips = SysfsChipDirectory.list(paths: paths)
        var matched = Set<String>()
        for entry in Files.list(paths.dev) where entry.hasPrefix("gpiochip") {
            let path = paths.device(entry)
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else { continue }
            // The same chip can be reached by two names (udev compatibility links such as
            // gpiochip4 -> gpiochip0 on a Pi 5): keep the first.
            guard seenDevices.insert(UInt64(st.st_rdev)).inserted else { continue }
            let fd = try OwnedDescriptor.open(path, O_RDONLY, what: "reading chip info", permissionAdvice: GPIOAdvice.permission)
            var info = ciot_gpiochip_info()
            try fd.withDescriptor { (raw: Int32) throws(HardwareError) in
                if ciot_gpio_get_chipinfo(raw, &info) != 0 {
                    throw HardwareError.fromErrno(ciot_errno(), "GPIO_GET_CHIPINFO_IOCTL", path: path)
                }
            }
            let name = String(fixedCString: info.name)
            let label = String(fixedCString: info.label)
            var chip = GPIOChipInfo(name: name, label: label, lineCount: Int(info.lines), devicePath: path)
            if let sysfs = SysfsChipDirectory.match(chip: name, label: label, lineCount: chip.lineCount,
                                                    paths: paths, among: sysfsChips, taken: matched) {
                matched.insert(sysfs.name)
                chip.sysfsPath = sysfs.path
                chip.sysfsBase = sysfs.base
            }
            result.append(chip)
        }
        return result
    }

    public func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        let fd = try openChip(chip, O_RDONLY, what: "reading line info")
        return try fd.withDescriptor { (raw: Int32) throws(HardwareError) in
            try Self.lineInfo(chipFD: raw, chip: chip, offset: offset)
        }
    }

    public func lines(of chip: GPIOChipInfo) throws(HardwareError) -> [GPIOLineInfo] {
        let fd = try openChip(chip, O_RDONLY, what: "reading line info")
        return try fd.withDescriptor { (raw: Int32) throws(HardwareError) -> [GPIOLineInfo] in
            var lines: [GPIOLineInfo] = []
            for offset in 0..<UInt32(chip.lineCount) {
                lines.append(try Self.lineInfo(chipFD: raw, chip: chip, offset: offset))
            }
            return lines
        }
    }

    static func lineInfo(chipFD: Int32, chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        var info = ciot_gpio_v2_line_info()
        guard ciot_gpio_v2_get_lineinfo(chipFD, offset, &info) == 0 else {
            let err = ciot_errno()
            if err == EINVAL {
                throw HardwareError(.notFound, "\(chip.name) [\(chip.label)] has no line \(offset): its lines are 0-\(chip.lineCount - 1)", errno: err, location: chip.name)
            }
            throw HardwareError.fromErrno(err, "GPIO_V2_GET_LINEINFO_IOCTL", path: chip.devicePath ?? chip.name)
        }
        return decode(info, chip: chip.name)
    }

    static func decode(_ info: ciot_gpio_v2_line_info, chip: String) -> GPIOLineInfo {
        let flags = info.flags
        var line = GPIOLineInfo(chip: chip, offset: info.offset)
        let name = String(fixedCString: info.name)
        let consumer = String(fixedCString: info.consumer)
        line.name = name.isEmpty ? nil : name
        line.isUsed = flags & CIOT_GPIO_V2_LINE_FLAG_USED != 0
        line.consumer = consumer.isEmpty ? (line.isUsed ? "kernel" : nil) : consumer
        line.direction = flags & CIOT_GPIO_V2_LINE_FLAG_OUTPUT != 0 ? .output : .input
        line.activeLow = flags & CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW != 0
        if flags & CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP != 0 {
            line.bias = .pullUp
        } else if flags & CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN != 0 {
            line.bias = .pullDown
        } else if flags & CIOT_GPIO_V2_LINE_FLAG_BIAS_DISABLED != 0 {
            line.bias = .disabled
        }
        if flags & CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN != 0 {
            line.drive = .openDrain
        } else if flags & CIOT_GPIO_V2_LINE_FLAG_OPEN_SOURCE != 0 {
            line.drive = .openSource
        }
        let rising = flags & CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING != 0
        let falling = flags & CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING != 0
        line.edge = rising && falling ? .both : rising ? .rising : falling ? .falling : .none
        var attrFlags: UInt64 = 0
        var attrValues: UInt64 = 0
        var debounce: UInt32 = 0
        var copy = info
        for i in 0..<min(info.num_attrs, CIOT_GPIO_V2_LINE_NUM_ATTRS_MAX) {
            if ciot_gpio_v2_lineinfo_attr(&copy, i, &attrFlags, &attrValues, &debounce) == CIOT_GPIO_V2_LINE_ATTR_ID_DEBOUNCE {
                line.debounce = .microseconds(Int64(debounce))
            }
        }
        return line
    }

    func openChip(_ chip: GPIOChipInfo, _ flags: Int32, what: String) throws(HardwareError) -> OwnedDescriptor {
        guard let path = chip.devicePath else {
            throw HardwareError(.unsupported, "\(chip.name) [\(chip.label)] has no character device; use the sysfs backend (GPIO.linux(.sysfs))", location: chip.name)
        }
        return try OwnedDescriptor.open(path, flags, what: what, permissionAdvice: GPIOAdvice.permission)
    }

    // MARK: - Requests

    public func requestLines(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String) throws(HardwareError) -> any GPIOLineHandle {
        var config = try Self.makeConfig(settings, chip: chip)
        let chipFD = try openChip(chip, O_RDWR, what: "requesting lines")
        let lineFD: Int32 = try chipFD.withDescriptor { (raw: Int32) throws(HardwareError) -> Int32 in
            var lineFD: Int32 = -1
            let rc = offsets.withUnsafeBufferPointer { buffer in
                ciot_gpio_v2_request_lines(raw, buffer.baseAddress, UInt32(buffer.count), consumer, &config, 0, &lineFD)
            }
            guard rc == 0 else {
                throw Self.requestError(ciot_errno(), chipFD: raw, chip: chip, offsets: offsets)
            }
            return lineFD
        }
        logger.debug("requested lines", metadata: ["chip": "\(chip.name)", "offsets": "\(offsets)", "consumer": "\(consumer)"])
        return CharacterDeviceLineHandle(
            descriptor: OwnedDescriptor(lineFD, path: "line request \(offsets) on \(chip.name)"),
            chip: chip, offsets: offsets, settings: settings)
    }

    /// Turns a failed GPIO_V2_GET_LINE_IOCTL into an error that names the holder of a busy line.
    static func requestError(_ err: Int32, chipFD: Int32, chip: GPIOChipInfo, offsets: [UInt32]) -> HardwareError {
        let path = chip.devicePath ?? chip.name
        if err == EBUSY {
            for offset in offsets {
                if let info = try? lineInfo(chipFD: chipFD, chip: chip, offset: offset), info.isUsed {
                    let name = info.name.map { " (\($0))" } ?? ""
                    return HardwareError(.busy, "line \(offset)\(name) of \(chip.name) [\(chip.label)] is busy: held by consumer '\(info.consumer ?? "unknown")'. Stop that program or driver (for a kernel driver, disable its overlay), or pick another line", errno: err, location: "\(chip.name):\(offset)")
                }
            }
            return HardwareError(.busy, "lines \(offsets) of \(chip.name) [\(chip.label)] are busy", errno: err, location: path)
        }
        return HardwareError.fromErrno(err, "requesting lines \(offsets)", path: path, permissionAdvice: GPIOAdvice.permission)
    }

    /// Builds the kernel's line config: the most common flags as the default, the others as
    /// attributes with masks, plus output values and debounce periods.
    static func makeConfig(_ settings: [LineSettings], chip: GPIOChipInfo) throws(HardwareError) -> ciot_gpio_v2_line_config {
        var config = ciot_gpio_v2_line_config()
        ciot_gpio_v2_config_init(&config)
        let flags = settings.map(flagBits)
        var groups: [UInt64: UInt64] = [:]
        var order: [UInt64] = []
        for (i, f) in flags.enumerated() {
            if groups[f] == nil { order.append(f) }
            groups[f, default: 0] |= UInt64(1) << UInt64(i)
        }
        let defaultFlags = order.max { (groups[$0] ?? 0).nonzeroBitCount < (groups[$1] ?? 0).nonzeroBitCount } ?? 0
        config.flags = defaultFlags
        var failed = false
        for f in order where f != defaultFlags {
            failed = failed || ciot_gpio_v2_config_add_flags(&config, f, groups[f] ?? 0) != 0
        }
        var outputMask: UInt64 = 0
        var outputValues: UInt64 = 0
        var debounceGroups: [UInt32: UInt64] = [:]
        for (i, s) in settings.enumerated() {
            let bit = UInt64(1) << UInt64(i)
            if s.direction == .output {
                outputMask |= bit
                if s.initialValue.isActive { outputValues |= bit }
            }
            if let d = s.debounce {
                debounceGroups[microseconds(d), default: 0] |= bit
            }
        }
        if outputMask != 0 {
            failed = failed || ciot_gpio_v2_config_add_output_values(&config, outputValues, outputMask) != 0
        }
        for (period, mask) in debounceGroups.sorted(by: { $0.key < $1.key }) {
            failed = failed || ciot_gpio_v2_config_add_debounce(&config, period, mask) != 0
        }
        if failed {
            throw HardwareError(.invalidArgument, "these lines need more than \(CIOT_GPIO_V2_LINE_NUM_ATTRS_MAX) distinct settings for one kernel request; split them into several requests", location: chip.name)
        }
        return config
    }

    static func flagBits(_ s: LineSettings) -> UInt64 {
        var f: UInt64 = s.direction == .output ? CIOT_GPIO_V2_LINE_FLAG_OUTPUT : CIOT_GPIO_V2_LINE_FLAG_INPUT
        if s.activeLow { f |= CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW }
        switch s.bias {
        case .pullUp: f |= CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP
        case .pullDown: f |= CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN
        case .disabled: f |= CIOT_GPIO_V2_LINE_FLAG_BIAS_DISABLED
        case nil: break
        }
        if s.direction == .output {
            switch s.drive {
            case .openDrain: f |= CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN
            case .openSource: f |= CIOT_GPIO_V2_LINE_FLAG_OPEN_SOURCE
            case .pushPull: break
            }
        } else {
            if s.edge.includesRising { f |= CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING }
            if s.edge.includesFalling { f |= CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING }
            if s.edge != .none && s.eventClock == .realtime { f |= CIOT_GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME }
        }
        return f
    }

    static func microseconds(_ d: Duration) -> UInt32 {
        let (seconds, attoseconds) = d.components
        let us = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        return UInt32(clamping: us)
    }
}
