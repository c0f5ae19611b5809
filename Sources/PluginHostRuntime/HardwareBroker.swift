import LinuxSupport
import CIoTLinux
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModuleProtocol
import PluginHostImages
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One line of the host's audit log (`<state>/audit.log`, JSON lines): every hardware request a
/// module made that was refused, and every grant.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var time: Double
    public var module: String
    /// `gpio` or `i2c`.
    public var resource: String
    /// What was asked, e.g. `gpiochip0 line 17 output` or `i2c-1 0x76 write 1 read 6`.
    public var request: String
    /// `granted` or `denied`.
    public var decision: String
    public var reason: String?
}

/// Appends audit entries; one write(2) per line on an O_APPEND file, so concurrent writers never
/// interleave within a line.
public struct AuditLog: Sendable {
    public let path: String

    public init(stateDirectory: String) { path = stateDirectory + "/audit.log" }

    /// An audit log at `path`.
    public init(path: String) { self.path = path }

    /// Records nothing (for runners made without a state directory).
    public static let discarding = AuditLog(path: "/dev/null")

    public func record(_ entry: AuditEntry) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else { return }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    }

    public func entries() -> [AuditEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONDecoder().decode(AuditEntry.self, from: Data($0)) }
    }
}

/// Gives a module the hardware its manifest declared, and nothing else.
///
/// GPIO: the host requests the declared line from the kernel (character device, uAPI v2) and
/// hands the line-request descriptor to the runner, so the module toggles it at native speed and
/// the kernel confines it to that line. The host keeps a duplicate of every output line it
/// granted, to drive it to its safe state (inactive) when the module stops.
/// I2C: every transfer is performed by the host, on the declared bus and only to a declared
/// address. Anything else is denied, with a line in the audit log.
public final class HardwareBroker: Sendable {
    public let moduleID: String
    public let capabilities: ModuleManifest.Capabilities
    let devRoot: String
    let sysfsRoot: String
    let audit: AuditLog

    /// A line request the host granted, of which it keeps a duplicate: to drive its outputs to
    /// their safe state when the module stops, and to reconfigure it for the module.
    private struct Grant {
        var fd: Int32
        var chip: String
        var offsets: [UInt32]
        /// Which of its lines are outputs (bit i: offsets[i]).
        var outputMask: UInt64
        /// The module's request id (`gpioRequest`/`gpioRequestLines`), which `gpioReconfigure` names.
        var requestID: UInt32?
    }

    private struct State {
        /// Every line request granted, by "chip:offsets".
        var grants: [String: Grant] = [:]
        /// Open /dev/i2c-N descriptors, by bus, and whether the adapter does I2C_RDWR.
        var buses: [UInt32: (fd: Int32, plainI2C: Bool)] = [:]
        /// Lines exported through legacy sysfs for the module, by GPIO number, with a duplicate
        /// of the value file of each output (else -1): driven inactive and unexported on stop.
        var sysfsExports: [Int: Int32] = [:]
    }
    private let state = Mutex(State())
    /// Where the syscall filter's denials of this run are counted for the module (nil: only in
    /// the audit log), and this run's count of each call so far.
    let denials: SyscallDenials?
    let syscallTotals = Mutex<[String: UInt32]>([:])

    public init(moduleID: String, capabilities: ModuleManifest.Capabilities, audit: AuditLog, devRoot: String = "/dev", sysfsRoot: String = "/sys",
                denials: SyscallDenials? = nil) {
        self.denials = denials
        self.sysfsRoot = sysfsRoot
        self.moduleID = moduleID
        self.capabilities = capabilities
        self.audit = audit
        self.devRoot = devRoot
    }

    deinit {
        state.withLock { state in
            for grant in state.grants.values { close(grant.fd) }
            for fd in state.sysfsExports.values where fd >= 0 { close(fd) }
            for bus in state.buses.values { close(bus.fd) }
        }
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        /// The manifest did not declare it (audited).
        case denied(String)
        /// Declared, but the kernel refused (line busy, no such chip, I/O error): the reason and
        /// the errno value, which the module sees negated.
        case failed(String, errno: Int32)

        public var description: String {
            switch self {
            case let .denied(text), let .failed(text, _): text
            }
        }
    }

    private func log(_ resource: String, _ request: String, denied reason: String?) {
        audit.record(AuditEntry(time: Date().timeIntervalSince1970, module: moduleID, resource: resource, request: request,
                                decision: reason == nil ? "granted" : "denied", reason: reason))
    }

    // MARK: GPIO

    /// Requests a declared line and returns the line-request descriptor for the runner (the
    /// caller sends it with SCM_RIGHTS and closes its copy). ABI 1's `gpio_request`.
    public func requestGPIO(chip: String, line: UInt32, direction: Message.Direction, initialValue: Bool, requestID: UInt32? = nil) -> Result<Int32, Refusal> {
        var config = ciot_gpio_v2_line_config()
        ciot_gpio_v2_config_init(&config)
        config.flags = direction == .output ? CIOT_GPIO_V2_LINE_FLAG_OUTPUT : CIOT_GPIO_V2_LINE_FLAG_INPUT
        if direction == .output, initialValue { _ = ciot_gpio_v2_config_add_output_values(&config, 1, 1) }
        return requestGPIOLines(chip: chip, offsets: [line], config: config, requestID: requestID)
    }

    /// The flags a module may ask for: everything a line request can set, and nothing else.
    static let requestableFlags: UInt64 = CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW | CIOT_GPIO_V2_LINE_FLAG_INPUT
        | CIOT_GPIO_V2_LINE_FLAG_OUTPUT | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING
        | CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN | CIOT_GPIO_V2_LINE_FLAG_OPEN_SOURCE | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP
        | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN | CIOT_GPIO_V2_LINE_FLAG_BIAS_DISABLED
        | CIOT_GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME

    /// `gpio_request_lines`: requests `offsets` of `chip` with the module's own kernel line config
    /// (`struct gpio_v2_line_config` as bytes). Every line must be declared, with the direction
    /// its flags give it.
    public func requestGPIOLines(chip: String, offsets: [UInt32], config bytes: [UInt8], requestID: UInt32? = nil) -> Result<Int32, Refusal> {
        switch Self.lineConfig(bytes) {
        case let .success(config): return requestGPIOLines(chip: chip, offsets: offsets, config: config, requestID: requestID)
        case let .failure(refusal): return .failure(refusal)
        }
    }

    /// `struct gpio_v2_line_config` from the bytes a module sent.
    static func lineConfig(_ bytes: [UInt8]) -> Result<ciot_gpio_v2_line_config, Refusal> {
        var config = ciot_gpio_v2_line_config()
        guard bytes.count == MemoryLayout<ciot_gpio_v2_line_config>.size else {
            return .failure(.failed("a GPIO line config of \(bytes.count) bytes; struct gpio_v2_line_config has \(MemoryLayout<ciot_gpio_v2_line_config>.size)", errno: EINVAL))
        }
        withUnsafeMutableBytes(of: &config) { $0.copyBytes(from: bytes) }
        return .success(config)
    }

    /// What each line of a config asks for, checked against the manifest: every line declared,
    /// with the direction its flags give it, and only flags a request may set. `what` names the
    /// request in reasons and the audit log.
    private func checkLines(chip: String, offsets: [UInt32], config: ciot_gpio_v2_line_config, what: String)
        -> Result<(request: String, wanted: [(offset: UInt32, direction: ModuleManifest.Direction, flags: UInt64)]), Refusal> {
        var config = config
        guard (1 ... Message.maxGPIOLines).contains(offsets.count), Set(offsets).count == offsets.count else {
            return .failure(.failed("a GPIO request takes 1 to \(Message.maxGPIOLines) distinct lines, not \(offsets)", errno: EINVAL))
        }
        guard config.num_attrs <= UInt32(CIOT_GPIO_V2_LINE_NUM_ATTRS_MAX) else {
            return .failure(.failed("a GPIO line config with \(config.num_attrs) attributes (at most \(CIOT_GPIO_V2_LINE_NUM_ATTRS_MAX))", errno: EINVAL))
        }
        // What each line asks for, as the kernel will read the config.
        var wanted: [(offset: UInt32, direction: ModuleManifest.Direction?, flags: UInt64)] = []
        for (index, offset) in offsets.enumerated() {
            let flags = ciot_gpio_v2_config_line_flags(&config, UInt32(index))
            let input = flags & CIOT_GPIO_V2_LINE_FLAG_INPUT != 0, output = flags & CIOT_GPIO_V2_LINE_FLAG_OUTPUT != 0
            wanted.append((offset, input == output ? nil : output ? .output : .input, flags))
        }
        let request = what + "\(chip) " + wanted.map { "line \($0.offset) \($0.direction?.rawValue ?? "without a direction")" }.joined(separator: ", ")
        for line in wanted {
            guard let direction = line.direction else {
                return .failure(.failed("\(request): each line needs exactly one of the INPUT and OUTPUT flags", errno: EINVAL))
            }
            guard line.flags & ~Self.requestableFlags == 0 else {
                return .failure(.failed("\(request): line \(line.offset) has flags 0x\(String(line.flags, radix: 16)) that a request cannot set", errno: EINVAL))
            }
            guard let declared = capabilities.gpio.first(where: { $0.chip == chip && $0.line == line.offset }) else {
                let declaredList = capabilities.gpio.map { "\($0.chip) line \($0.line) \($0.direction.rawValue)" }
                let reason = "\(chip) line \(line.offset) \(direction.rawValue) is not declared in capabilities.gpio (declared: \(declaredList.isEmpty ? "none" : declaredList.joined(separator: ", ")))"
                log("gpio", request, denied: reason)
                return .failure(.denied(reason))
            }
            guard declared.direction == direction else {
                let reason = "\(chip) line \(line.offset) is declared as \(declared.direction.rawValue), not \(direction.rawValue)"
                log("gpio", request, denied: reason)
                return .failure(.denied(reason))
            }
        }
        return .success((request, wanted.map { ($0.offset, $0.direction!, $0.flags) }))
    }

    func requestGPIOLines(chip: String, offsets: [UInt32], config: ciot_gpio_v2_line_config, requestID: UInt32? = nil) -> Result<Int32, Refusal> {
        var config = config
        let checked = checkLines(chip: chip, offsets: offsets, config: config, what: "")
        guard case let .success((request, wanted)) = checked else { return checked.map { _ in -1 } }
        if let sysfs = sysfsChip(chip) {
            return requestSysfsLine(sysfs, offsets: offsets, config: config, wanted: wanted, request: request)
        }
        // Lines the module asks for again: it released them, but the host's duplicate still
        // holds them. (If the module still holds them, the kernel answers EBUSY as it would.)
        let released = state.withLock { state -> [Int32] in
            let keys = state.grants.filter { $0.value.chip == chip && !Set($0.value.offsets).isDisjoint(with: offsets) }.map(\.key)
            return keys.compactMap { state.grants.removeValue(forKey: $0)?.fd }
        }
        released.forEach { close($0) }
        let consumer = String("plugin-host:\(moduleID)".utf8.prefix(31))!
        let granted = withChip(chip, O_RDWR) { chipFD -> Result<Int32, Refusal> in
            var lineFD: Int32 = -1
            let rc = offsets.withUnsafeBufferPointer {
                ciot_gpio_v2_request_lines(chipFD, $0.baseAddress, UInt32($0.count), consumer, &config, 0, &lineFD)
            }
            return rc == 0 ? .success(lineFD) : .failure(Self.errnoFailure("the kernel refused \(request)", errno == EBUSY ? " (another consumer holds the line)" : ""))
        }
        guard case let .success(lineFD) = granted else { return granted }
        var outputMask: UInt64 = 0
        for (index, line) in wanted.enumerated() where line.direction == .output { outputMask |= 1 << UInt64(index) }
        let keep = fcntl(lineFD, F_DUPFD_CLOEXEC, 3)
        if keep >= 0 {
            let key = "\(chip):" + offsets.map(String.init).joined(separator: ",")
            let previous = state.withLock { state in
                defer { state.grants[key] = Grant(fd: keep, chip: chip, offsets: offsets, outputMask: outputMask, requestID: requestID) }
                return state.grants[key]?.fd
            }
            if let previous { close(previous) }
        }
        log("gpio", request, denied: nil)
        return .success(lineFD)
    }

    /// `gpioReconfigure`: sets a new config on the line request granted for `grant`, through
    /// the host's own duplicate of it, once every line keeps its declared direction. This is
    /// the only way a sandboxed module reconfigures lines: its syscall filter denies
    /// GPIO_V2_LINE_SET_CONFIG_IOCTL, which would let a declared input become an output.
    public func reconfigureGPIOLines(grant: UInt32, config bytes: [UInt8]) -> Result<Void, Refusal> {
        let config: ciot_gpio_v2_line_config
        switch Self.lineConfig(bytes) {
        case let .success(decoded): config = decoded
        case let .failure(refusal): return .failure(refusal)
        }
        guard let granted = state.withLock({ $0.grants.values.first { $0.requestID == grant } }) else {
            return .failure(.failed("no line request of this module was granted for request \(grant) (a legacy sysfs line cannot be reconfigured)", errno: EBADF))
        }
        let checked = checkLines(chip: granted.chip, offsets: granted.offsets, config: config, what: "reconfigure ")
        guard case let .success((request, _)) = checked else { return checked.map { _ in () } }
        var kernelConfig = config
        guard ciot_gpio_v2_line_set_config(granted.fd, &kernelConfig) == 0 else {
            return .failure(Self.errnoFailure("the kernel refused \(request)"))
        }
        log("gpio", request, denied: nil)
        return .success(())
    }

    // MARK: GPIO through legacy sysfs

    /// A chip the kernel offers through legacy sysfs only (no `/dev/<chip>`): its directory
    /// `<sysfs>/class/gpio/<chip>` (the sysfs name, `gpiochip<base>`), base and line count.
    struct SysfsChip {
        var name: String
        var directory: String
        var label: String
        var base: Int
        var lineCount: Int
    }

    func sysfsChip(_ chip: String) -> SysfsChip? {
        guard access(devRoot + "/" + chip, F_OK) != 0, !chip.contains("/"), chip.hasPrefix("gpiochip") else { return nil }
        let directory = sysfsRoot + "/class/gpio/" + chip
        guard let base = Self.readAttribute(directory + "/base").flatMap({ Int($0) }),
              let count = Self.readAttribute(directory + "/ngpio").flatMap({ Int($0) }) else { return nil }
        return SysfsChip(name: chip, directory: directory, label: Self.readAttribute(directory + "/label") ?? "", base: base, lineCount: count)
    }

    /// A sysfs attribute's text without its newline.
    static func readAttribute(_ path: String) -> String? {
        (try? Files.read(path))?.trimmed
    }

    /// Exports one declared line through sysfs, configures it as the config asks and hands over
    /// its `value` file: writes set it, reads get it, and poll(2) for POLLPRI reports its edges.
    /// What sysfs cannot do (bias, drive, debounce, the realtime event clock, several lines in
    /// one request) is refused with EOPNOTSUPP rather than silently dropped.
    private func requestSysfsLine(_ chip: SysfsChip, offsets: [UInt32], config: ciot_gpio_v2_line_config,
                                  wanted: [(offset: UInt32, direction: ModuleManifest.Direction, flags: UInt64)], request: String) -> Result<Int32, Refusal> {
        var config = config
        guard offsets.count == 1, let line = wanted.first else {
            return .failure(.failed("\(request): \(chip.name) is a legacy sysfs chip, where each line is requested on its own", errno: EOPNOTSUPP))
        }
        let unsupported = CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN | CIOT_GPIO_V2_LINE_FLAG_BIAS_DISABLED
            | CIOT_GPIO_V2_LINE_FLAG_OPEN_DRAIN | CIOT_GPIO_V2_LINE_FLAG_OPEN_SOURCE | CIOT_GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME
        guard line.flags & unsupported == 0, ciot_gpio_v2_config_line_debounce(&config, 0) == 0 else {
            return .failure(.failed("\(request): \(chip.name) is a legacy sysfs chip, which cannot set bias, drive, debounce or the realtime event clock", errno: EOPNOTSUPP))
        }
        guard Int(line.offset) < chip.lineCount else {
            return .failure(.failed("\(request): \(chip.name) has lines 0-\(chip.lineCount - 1)", errno: EINVAL))
        }
        let number = chip.base + Int(line.offset)
        let classDirectory = sysfsRoot + "/class/gpio", directory = classDirectory + "/gpio\(number)"
        if let code = Files.writeReturningErrno(String(number), to: classDirectory + "/export") {
            return .failure(.failed("the kernel refused \(request) (exporting GPIO \(number)): \(String(cString: strerror(code)))\(code == EBUSY ? " (another consumer holds the line)" : "")", errno: code))
        }
        // Whatever fails from here unexports the line again.
        func failed(_ what: String, _ code: Int32) -> Result<Int32, Refusal> {
            try? Files.write(String(number), to: classDirectory + "/unexport")
            return .failure(.failed("\(request): \(what) of GPIO \(number): \(String(cString: strerror(code)))", errno: code))
        }
        var waited = 0
        while access(directory + "/value", F_OK) != 0 && waited < 100 { usleep(10_000); waited += 1 }
        let activeLow = line.flags & CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW != 0
        if let code = Files.writeReturningErrno(activeLow ? "1" : "0", to: directory + "/active_low") { return failed("active_low", code) }
        if line.direction == .output {
            // "high"/"low" are raw levels: the logical initial value through active_low.
            let active = ciot_gpio_v2_config_line_output_value(&config, 0) != 0
            if let code = Files.writeReturningErrno(active != activeLow ? "high" : "low", to: directory + "/direction") { return failed("direction", code) }
        } else {
            if let code = Files.writeReturningErrno("in", to: directory + "/direction") { return failed("direction", code) }
            let rising = line.flags & CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING != 0, falling = line.flags & CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING != 0
            let edge = rising && falling ? "both" : rising ? "rising" : falling ? "falling" : "none"
            if let code = Files.writeReturningErrno(edge, to: directory + "/edge") { return failed("edge", code) }
        }
        let fd = open(directory + "/value", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return failed("opening value", errno) }
        let keep = line.direction == .output ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1
        state.withLock { state in
            if let previous = state.sysfsExports[number], previous >= 0 { close(previous) }
            state.sysfsExports[number] = keep
        }
        log("gpio", request, denied: nil)
        return .success(fd)
    }

    /// The chips the manifest declares lines of, in declaration order.
    var declaredChips: [String] {
        var seen = Set<String>()
        return capabilities.gpio.map(\.chip).filter { seen.insert($0).inserted }
    }

    /// `gpio_chip_info`: the kernel's `struct gpiochip_info` of the `index`-th declared chip;
    /// `.failed` with ERANGE past the last one. Not audited: it grants nothing.
    public func gpioChipInfo(index: UInt32) -> Result<[UInt8], Refusal> {
        let chips = declaredChips
        guard Int(index) < chips.count else {
            return .failure(.failed("the manifest declares lines of \(chips.count) chip(s)", errno: ERANGE))
        }
        let chip = chips[Int(index)]
        if let sysfs = sysfsChip(chip) {
            var info = ciot_gpiochip_info()
            Self.fill(&info.name, sysfs.name)
            Self.fill(&info.label, sysfs.label)
            info.lines = UInt32(sysfs.lineCount)
            return .success(withUnsafeBytes(of: &info) { Array($0) })
        }
        return withChip(chip, O_RDONLY) { fd in
            var info = ciot_gpiochip_info()
            guard ciot_gpio_get_chipinfo(fd, &info) == 0 else { return .failure(Self.errnoFailure("GPIO_GET_CHIPINFO_IOCTL on \(chip)")) }
            return .success(withUnsafeBytes(of: &info) { Array($0) })
        }
    }

    /// `gpio_line_info`: the kernel's `struct gpio_v2_line_info` of a declared line. Other lines
    /// are refused (without an audit line: asking grants nothing).
    public func gpioLineInfo(chip: String, offset: UInt32) -> Result<[UInt8], Refusal> {
        guard capabilities.gpio.contains(where: { $0.chip == chip && $0.line == offset }) else {
            return .failure(.denied("\(chip) line \(offset) is not declared in capabilities.gpio"))
        }
        if let sysfs = sysfsChip(chip) {
            // Sysfs names no lines; an exported line is in use, with its direction.
            var info = ciot_gpio_v2_line_info()
            info.offset = offset
            let directory = sysfsRoot + "/class/gpio/gpio\(sysfs.base + Int(offset))"
            if let direction = Self.readAttribute(directory + "/direction") {
                info.flags = CIOT_GPIO_V2_LINE_FLAG_USED | (direction == "out" ? CIOT_GPIO_V2_LINE_FLAG_OUTPUT : CIOT_GPIO_V2_LINE_FLAG_INPUT)
                Self.fill(&info.consumer, "sysfs")
            } else {
                info.flags = CIOT_GPIO_V2_LINE_FLAG_INPUT
            }
            return .success(withUnsafeBytes(of: &info) { Array($0) })
        }
        return withChip(chip, O_RDONLY) { fd in
            var info = ciot_gpio_v2_line_info()
            guard ciot_gpio_v2_get_lineinfo(fd, offset, &info) == 0 else {
                return .failure(Self.errnoFailure("GPIO_V2_GET_LINEINFO_IOCTL for \(chip) line \(offset)"))
            }
            return .success(withUnsafeBytes(of: &info) { Array($0) })
        }
    }

    /// Copies `text` into a C `char[N]` of a kernel structure, NUL-terminated.
    static func fill<T>(_ field: inout T, _ text: String) {
        withUnsafeMutableBytes(of: &field) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (i, byte) in text.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
    }

    /// Runs `body` with `/dev/<chip>` open; a failure to open is the kernel's refusal.
    private func withChip<T>(_ chip: String, _ flags: Int32, _ body: (Int32) -> Result<T, Refusal>) -> Result<T, Refusal> {
        let fd = open(devRoot + "/" + chip, flags | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Self.errnoFailure("cannot open \(devRoot)/\(chip)")) }
        defer { close(fd) }
        return body(fd)
    }

    /// `.failed` with errno and its text.
    private static func errnoFailure(_ what: String, _ suffix: String = "") -> Refusal {
        let code = errno
        return .failed("\(what): \(String(cString: strerror(code)))\(suffix)", errno: code)
    }

    /// Drives every output line granted to the module to its safe state (inactive) and releases
    /// the host's copies. Called when the module stops, before or after its runner exits.
    @discardableResult
    public func driveOutputsToSafeState() -> [String] {
        let grants = state.withLock { state -> [String: Grant] in
            defer { state.grants = [:] }
            return state.grants
        }
        var driven: [String] = []
        for (name, grant) in grants.sorted(by: { $0.key < $1.key }) {
            if grant.outputMask != 0, ciot_gpio_v2_line_set_values(grant.fd, 0, grant.outputMask) == 0 { driven.append(name) }
            close(grant.fd)
        }
        let exports = state.withLock { state -> [Int: Int32] in
            defer { state.sysfsExports = [:] }
            return state.sysfsExports
        }
        for (number, fd) in exports.sorted(by: { $0.key < $1.key }) {
            if fd >= 0 {
                if pwrite(fd, "0", 1, 0) == 1 { driven.append("gpio\(number)") }
                close(fd)
            }
            try? Files.write(String(number), to: sysfsRoot + "/class/gpio/unexport")
        }
        return driven
    }

    // MARK: I2C

    /// `i2cOpen`: a descriptor of a declared bus for the module, on which it makes SMBus calls at
    /// native speed. The descriptor itself reaches every address: what confines the module to
    /// its declared addresses is its sandbox's syscall filter, which lets `I2C_SLAVE` select
    /// declared addresses only and denies `I2C_SLAVE_FORCE`, `I2C_TENBIT` and `I2C_RDWR` (whose
    /// messages carry their own addresses: those transfers stay brokered, `i2cTransfer`). So the
    /// host grants it only to a sandboxed run (`confined`); otherwise the module is told to use
    /// the brokered transfers.
    public func openI2C(bus: UInt32, confined: Bool) -> Result<Int32, Refusal> {
        let request = "i2c-\(bus) descriptor"
        guard let declared = capabilities.i2c.first(where: { $0.bus == bus }) else {
            let reason = "bus i2c-\(bus) is not declared in capabilities.i2c"
            log("i2c", request, denied: reason)
            return .failure(.denied(reason))
        }
        guard confined else {
            return .failure(.failed("an I2C descriptor is handed only to a module under the sandbox's syscall filter, which confines it to the declared addresses; transfers go through the host", errno: EOPNOTSUPP))
        }
        let fd = open(devRoot + "/i2c-\(bus)", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Self.errnoFailure("cannot open \(devRoot)/i2c-\(bus)")) }
        log("i2c", request + " (addresses " + declared.addresses.map { "0x" + String($0, radix: 16) }.joined(separator: ", ") + ")", denied: nil)
        return .success(fd)
    }

    /// Performs one combined transfer for the module; returns the bytes of each read segment.
    public func i2cTransfer(bus: UInt32, address: UInt8, segments: [Message.I2CSegment]) -> Result<[[UInt8]], Refusal> {
        let summary = segments.map { segment -> String in
            switch segment {
            case let .write(bytes): "write \(bytes.count)"
            case let .read(count): "read \(count)"
            }
        }.joined(separator: " ")
        let request = "i2c-\(bus) 0x\(String(address, radix: 16)) \(summary)"
        guard let declared = capabilities.i2c.first(where: { $0.bus == bus }) else {
            let reason = "bus i2c-\(bus) is not declared in capabilities.i2c"
            log("i2c", request, denied: reason)
            return .failure(.denied(reason))
        }
        guard declared.addresses.contains(address) else {
            let reason = "address 0x\(String(address, radix: 16)) on i2c-\(bus) is not declared (declared: \(declared.addresses.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))"
            log("i2c", request, denied: reason)
            return .failure(.denied(reason))
        }
        return state.withLock { state -> Result<[[UInt8]], Refusal> in
            let bus_: (fd: Int32, plainI2C: Bool)
            if let open_ = state.buses[bus] { bus_ = open_ } else {
                let fd = open(devRoot + "/i2c-\(bus)", O_RDWR | O_CLOEXEC)
                guard fd >= 0 else {
                    let code = errno
                    return .failure(.failed("cannot open \(devRoot)/i2c-\(bus): \(String(cString: strerror(code)))", errno: code))
                }
                var funcs: UInt = 0
                _ = ciot_i2c_funcs(fd, &funcs)
                bus_ = (fd, funcs & CIOT_I2C_FUNC_I2C != 0)
                state.buses[bus] = bus_
            }
            return Self.perform(fd: bus_.fd, plainI2C: bus_.plainI2C, address: address, segments: segments, request: request)
        }
    }

    /// I2C_RDWR when the adapter does plain I2C; on an SMBus-only adapter the common register
    /// patterns map to SMBus calls: [write r, read n] (byte, word, I2C block), [write r, v…]
    /// (byte, word, I2C block), [write v] and [read 1].
    static func perform(fd: Int32, plainI2C: Bool, address: UInt8, segments: [Message.I2CSegment], request: String) -> Result<[[UInt8]], Refusal> {
        func failure(_ what: String) -> Result<[[UInt8]], Refusal> {
            let code = errno
            return .failure(.failed("\(request): \(what): \(String(cString: strerror(code)))", errno: code == 0 ? EIO : code))
        }
        if plainI2C {
            var buffers: [UnsafeMutablePointer<UInt8>?] = []
            var flags: [UInt16] = [], lengths: [UInt16] = []
            defer { buffers.forEach { $0?.deallocate() } }
            for segment in segments {
                switch segment {
                case let .write(bytes):
                    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
                    buffer.initialize(from: bytes, count: bytes.count)
                    buffers.append(buffer); flags.append(0); lengths.append(UInt16(bytes.count))
                case let .read(count):
                    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(Int(count), 1))
                    buffer.initialize(repeating: 0, count: max(Int(count), 1))
                    buffers.append(buffer); flags.append(CIOT_I2C_M_RD); lengths.append(count)
                }
            }
            let rc = buffers.withUnsafeBufferPointer { pointers in
                ciot_i2c_rdwr(fd, UInt16(address), UInt32(segments.count), flags, lengths,
                              UnsafeRawPointer(pointers.baseAddress!).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self))
            }
            guard rc >= 0 else { return failure("I2C_RDWR") }
            var reads: [[UInt8]] = []
            for (index, segment) in segments.enumerated() {
                if case let .read(count) = segment { reads.append(Array(UnsafeBufferPointer(start: buffers[index], count: Int(count)))) }
            }
            return .success(reads)
        }
        guard ciot_i2c_set_address(fd, UInt16(address), 0) == 0 else { return failure("selecting the address") }
        let shape: (write: [UInt8]?, read: UInt16?) = switch (segments.first, segments.dropFirst().first, segments.count) {
        case let (.write(bytes)?, .read(count)?, 2): (bytes, count)
        case let (.write(bytes)?, nil, 1): (bytes, nil)
        case let (.read(count)?, nil, 1): (nil, count)
        default: (nil, nil)
        }
        switch shape {
        case let (register?, count?) where register.count == 1 && count == 1:
            let value = ciot_i2c_smbus_read_byte_data(fd, register[0])
            return value < 0 ? failure("SMBus read byte data") : .success([[UInt8(value)]])
        case let (register?, count?) where register.count == 1 && count == 2:
            let value = ciot_i2c_smbus_read_word_data(fd, register[0])
            return value < 0 ? failure("SMBus read word data") : .success([[UInt8(value & 0xFF), UInt8(value >> 8)]])
        case let (register?, count?) where register.count == 1 && count <= UInt16(CIOT_I2C_SMBUS_BLOCK_MAX):
            var buffer = [UInt8](repeating: 0, count: Int(count))
            let n = ciot_i2c_smbus_read_i2c_block_data(fd, register[0], UInt8(count), &buffer)
            return n < 0 ? failure("SMBus read I2C block") : .success([Array(buffer.prefix(Int(n)))])
        case let (bytes?, nil) where bytes.count == 1:
            return ciot_i2c_smbus_write_byte(fd, bytes[0]) < 0 ? failure("SMBus write byte") : .success([])
        case let (bytes?, nil) where bytes.count == 2:
            return ciot_i2c_smbus_write_byte_data(fd, bytes[0], bytes[1]) < 0 ? failure("SMBus write byte data") : .success([])
        case let (bytes?, nil) where bytes.count == 3:
            let word = UInt16(bytes[1]) | UInt16(bytes[2]) << 8
            return ciot_i2c_smbus_write_word_data(fd, bytes[0], word) < 0 ? failure("SMBus write word data") : .success([])
        case let (bytes?, nil) where bytes.count > 3 && bytes.count <= Int(CIOT_I2C_SMBUS_BLOCK_MAX) + 1:
            let rc = bytes.dropFirst().withContiguousStorageIfAvailable {
                ciot_i2c_smbus_write_i2c_block_data(fd, bytes[0], UInt8($0.count), $0.baseAddress)
            } ?? -1
            return rc < 0 ? failure("SMBus write I2C block") : .success([])
        case (nil, 1?):
            let value = ciot_i2c_smbus_read_byte(fd)
            return value < 0 ? failure("SMBus receive byte") : .success([[UInt8(value)]])
        default:
            return .failure(.failed("\(request): this adapter speaks SMBus only, which cannot express this transfer; use [write register, read 1...32] or [write register, value]", errno: EOPNOTSUPP))
        }
    }
}
