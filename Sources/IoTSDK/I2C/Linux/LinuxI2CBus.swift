#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import CIoTLinux
import Synchronization

/// An I2C bus through `/dev/i2c-N` (the i2c-dev driver): I2C_RDWR transfers and SMBus ioctls.
///
/// Calls from several tasks are serialized, so that selecting the target address (I2C_SLAVE) and
/// the transfer that follows it never interleave with another caller's.
///
/// Inside a plugin-host runner (`ModuleHost.current`) the bus goes through the host instead. In
/// the sandbox the host hands over a descriptor of the bus (`i2c_open`), on which the SMBus calls
/// run at native speed: the sandbox's syscall filter lets `I2C_SLAVE` select the declared
/// addresses only. Plain I2C transfers (`transfer`, I2C_RDWR, whose messages carry their own
/// addresses) become one `i2c_transfer` that the host performs on the declared bus, to declared
/// addresses only; so do the SMBus calls where there is no descriptor (unsandboxed, or an SMBus
/// call the adapter does not offer), with SMBus calls on adapters that speak only SMBus.
public final class LinuxI2CBus: I2CBus {
    public let number: Int
    public let name: String
    public let functionality: I2CFunctionality
    public let devicePath: String
    let paths: LinuxPaths
    /// The descriptor and the address last selected on it, under one lock.
    private let state: Mutex<(fd: Int32, address: UInt16)>
    /// Set inside a plugin-host runner: the host that performs the transfers.
    private let mediated: Mediated?
    /// The SMBus calls made on the descriptor: all that the adapter offers outside a runner, and
    /// inside one those of the host's descriptor (none without it: every call through the host).
    private let directSMBus: I2CFunctionality

    private final class Mediated: Sendable {
        let host: ModuleHost
        let closed = Atomic<Bool>(false)
        init(host: ModuleHost) { self.host = host }
    }

    /// What the bus offers through the host: plain transfers, and SMBus calls as the transfers
    /// the host maps back to SMBus on SMBus-only adapters.
    static let mediatedFunctionality: I2CFunctionality = [
        .i2c, .smbusQuick, .smbusReadByte, .smbusWriteByte, .smbusReadByteData, .smbusWriteByteData,
        .smbusReadWordData, .smbusWriteWordData, .smbusReadI2CBlock, .smbusWriteI2CBlock,
    ]

    static let permissionAdvice = "add the user to group 'i2c' (sudo usermod -aG i2c $USER, then log in again) or install the udev rule from Documentation/RaspberryPi.md; running as root also works"

    /// Opens bus N.
    /// - Throws: `.notFound` with how to enable I2C and load i2c-dev; `.permissionDenied` with the fix.
    public init(bus number: Int, paths: LinuxPaths = .system) throws(HardwareError) {
        let path = paths.device("i2c-\(number)")
        if paths == .system, let host = ModuleHost.current, host.hasHardwareCalls {
            guard number >= 0, number <= Int(UInt32.max) else {
                throw HardwareError(.invalidArgument, "there is no I2C bus \(number)", location: path)
            }
            self.number = number
            self.devicePath = path
            self.paths = paths
            self.mediated = Mediated(host: host)
            // A descriptor when the host hands one over (a sandboxed run), else none.
            var fd: Int32 = -1
            var adapter: UInt = 0
            if let granted = try? host.openI2C(bus: UInt32(number)) {
                if ciot_i2c_funcs(granted, &adapter) == 0 { fd = granted } else { _ = Glibc.close(granted) }
            }
            let direct = I2CFunctionality(rawValue: adapter).intersection(Self.mediatedFunctionality)
            self.name = "i2c-\(number) (through the plugin host\(fd >= 0 ? ", SMBus on its descriptor" : ""))"
            self.functionality = Self.mediatedFunctionality
            self.directSMBus = fd >= 0 ? direct : []
            self.state = Mutex((fd, UInt16.max))
            return
        }
        let fd = Syscall.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw HardwareError(.notFound, "\(path) does not exist: load the i2c-dev driver (sudo modprobe i2c-dev) and enable the bus (Raspberry Pi: sudo raspi-config nonint do_i2c 0). Adapters found: \(I2CAdapters.describe(I2CAdapters.list(paths: paths)))", errno: err, location: path)
            }
            throw HardwareError.fromErrno(err, "opening the I2C bus", path: path, permissionAdvice: Self.permissionAdvice)
        }
        var funcs: UInt = 0
        if ciot_i2c_funcs(fd, &funcs) != 0 {
            let err = ciot_errno()
            _ = Glibc.close(fd)
            throw HardwareError.fromErrno(err, "I2C_FUNCS", path: path)
        }
        self.number = number
        self.devicePath = path
        self.paths = paths
        let adapterName = Files.readAttributeIfPresent(paths.sys("class/i2c-adapter/i2c-\(number)/name")) ?? ""
        self.name = adapterName.isEmpty ? "i2c-\(number)" : "i2c-\(number) [\(adapterName)]"
        self.functionality = I2CFunctionality(rawValue: funcs)
        self.state = Mutex((fd, UInt16.max))
        self.mediated = nil
        self.directSMBus = I2CFunctionality(rawValue: funcs)
    }

    /// Opens the adapter with this name (as in `/sys/class/i2c-adapter/i2c-N/name`).
    public convenience init(adapterNamed adapterName: String, paths: LinuxPaths = .system) throws(HardwareError) {
        let adapter = try I2CAdapters.find(named: adapterName, paths: paths)
        try self.init(bus: adapter.number, paths: paths)
    }

    deinit { close() }

    /// Closes the bus; later calls throw `.closed`.
    public func close() {
        mediated?.closed.store(true, ordering: .releasing)
        state.withLock { s in
            if s.fd >= 0 { _ = Glibc.close(s.fd) }
            s.fd = -1
        }
    }

    // MARK: - Plumbing

    /// Runs `body` with the descriptor, after selecting `address` if it is not selected already.
    @inline(__always)
    private func withAddress<R>(_ address: I2CAddress, _ body: (Int32) throws(HardwareError) -> R) throws(HardwareError) -> R {
        try state.withLock { (s: inout (fd: Int32, address: UInt16)) throws(HardwareError) -> R in
            guard s.fd >= 0 else { throw HardwareError(.closed, "\(name) was closed", location: devicePath) }
            if s.address != address.rawValue {
                if ciot_i2c_set_address(s.fd, address.rawValue, 0) != 0 {
                    throw addressError(ciot_errno(), address)
                }
                s.address = address.rawValue
            }
            return try body(s.fd)
        }
    }

    private func addressError(_ err: Int32, _ address: I2CAddress) -> HardwareError {
        if mediated != nil, err == EPERM {
            // The sandbox's syscall filter: the address is not declared. The module sees EACCES,
            // as for a transfer the host refuses.
            return HardwareError(.permissionDenied, "the plugin host's sandbox refused address \(address) on i2c-\(number): it is not declared. Declare it in the module manifest's capabilities.i2c (bus and address), then pack and install the module again", errno: EACCES, location: devicePath)
        }
        if err == EBUSY {
            let client = I2CAdapters.claimedAddresses(paths: paths)[number]?.first { $0.address == address.rawValue }
            let who = client.map { "kernel driver '\($0.driver ?? $0.deviceName)'" } ?? "a kernel driver"
            let unbind = client?.driver.map { " (echo \(number)-00\(I2CAddress.hex(Int(address.rawValue)).dropFirst(2)) > /sys/bus/i2c/drivers/\($0)/unbind)" } ?? ""
            return HardwareError(.busy, "\(address) on \(name) is busy: claimed by \(who). Read it through that driver, or unbind it\(unbind) / remove its device-tree overlay", errno: err, location: devicePath)
        }
        return HardwareError.fromErrno(err, "selecting address \(address)", path: devicePath)
    }

    /// Maps the errno of a transfer to a typed error.
    private func transferError(_ err: Int32, _ what: String, _ address: I2CAddress) -> HardwareError {
        switch err {
        case ENXIO, EREMOTEIO, ENODEV:
            return HardwareError(.noAcknowledge, "no device answered at \(address) on \(name) (\(what)): check the address (sdk-demo i2c-scan), wiring, power and pull-ups", errno: err, location: devicePath)
        case ETIMEDOUT:
            return HardwareError(.timeout, "\(what) at \(address) on \(name) timed out: a device may be holding SDA low; check wiring and pull-ups, or power-cycle the device", errno: err, location: devicePath)
        case EAGAIN:
            return HardwareError(.busy, "\(what) at \(address) on \(name) lost arbitration: another controller was using the bus; retry", errno: err, location: devicePath)
        case EOPNOTSUPP:
            return HardwareError(.unsupported, "\(name) does not support \(what)", errno: err, location: devicePath)
        default:
            return HardwareError.fromErrno(err, "\(what) at \(address)", path: devicePath)
        }
    }

    /// Whether an SMBus call goes through the host: inside a runner, unless the host's
    /// descriptor offers it.
    @inline(__always)
    private func brokered(_ call: I2CFunctionality) -> Bool { mediated != nil && !directSMBus.contains(call) }

    private func require(_ needed: I2CFunctionality, _ what: String) throws(HardwareError) {
        guard functionality.contains(needed) else {
            throw HardwareError(.unsupported, "\(name) cannot do \(what): the adapter offers only [\(functionality)]", location: devicePath)
        }
    }

    // MARK: - I2C_RDWR

    public func transfer(_ address: I2CAddress, _ messages: [I2CMessage]) throws(HardwareError) -> [[UInt8]] {
        if mediated != nil { return try hostTransfer(address, messages, "an I2C transfer") }
        guard functionality.contains(.i2c) else {
            throw HardwareError(.unsupported, "\(name) is SMBus-only: it cannot do plain I2C transfers (I2C_RDWR). Use I2CDevice's register calls, which fall back to SMBus, or an adapter with an I2C controller", location: devicePath)
        }
        guard !messages.isEmpty, messages.count <= Int(CIOT_I2C_RDWR_IOCTL_MAX_MSGS) else {
            throw HardwareError(.invalidArgument, "an I2C transfer takes 1-\(CIOT_I2C_RDWR_IOCTL_MAX_MSGS) messages, not \(messages.count)")
        }
        // One allocation holds every message's bytes; the kernel reads and writes it in place.
        var flags: [UInt16] = []
        var lengths: [UInt16] = []
        for message in messages {
            switch message {
            case .write(let bytes):
                guard bytes.count <= 65535 else { throw HardwareError(.invalidArgument, "an I2C message carries at most 65535 bytes") }
                flags.append(0)
                lengths.append(UInt16(bytes.count))
            case .read(let count):
                guard count > 0, count <= 65535 else { throw HardwareError(.invalidArgument, "an I2C read takes 1-65535 bytes, not \(count)") }
                flags.append(CIOT_I2C_M_RD)
                lengths.append(UInt16(count))
            }
        }
        let total = lengths.reduce(0) { $0 + Int($1) }
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var pointers: [UnsafeMutablePointer<UInt8>?] = []
        var position = 0
        for (message, length) in zip(messages, lengths) {
            let start = storage + position
            if case .write(let bytes) = message {
                bytes.withUnsafeBufferPointer { src in
                    if let base = src.baseAddress { start.update(from: base, count: src.count) }
                }
            }
            pointers.append(start)
            position += Int(length)
        }
        let rc: Int32 = try state.withLock { (s: inout (fd: Int32, address: UInt16)) throws(HardwareError) -> Int32 in
            guard s.fd >= 0 else { throw HardwareError(.closed, "\(name) was closed", location: devicePath) }
            return ciot_i2c_rdwr(s.fd, address.rawValue, UInt32(messages.count), flags, lengths, pointers)
        }
        if rc < 0 { throw transferError(ciot_errno(), "an I2C transfer", address) }
        var reads: [[UInt8]] = []
        for (message, pointer) in zip(messages, pointers) {
            if case .read(let count) = message, let pointer {
                reads.append(Array(UnsafeBufferPointer(start: pointer, count: count)))
            }
        }
        return reads
    }

    // MARK: - Through the plugin host

    /// One transfer performed by the host (`mediated` is set).
    private func hostTransfer(_ address: I2CAddress, _ messages: [I2CMessage], _ what: String) throws(HardwareError) -> [[UInt8]] {
        guard let mediated else { throw HardwareError(.unsupported, "\(name) is not a bus of the plugin host") }
        guard !mediated.closed.load(ordering: .acquiring) else { throw HardwareError(.closed, "\(name) was closed", location: devicePath) }
        guard address.rawValue <= 0x7F else {
            throw HardwareError(.unsupported, "the plugin host brokers 7-bit addresses only, not \(address)", location: devicePath)
        }
        var segments: [ModuleHost.I2CSegment] = []
        for message in messages {
            switch message {
            case .write(let bytes): segments.append(.write(bytes))
            case .read(let count):
                guard count > 0, count <= 4096 else { throw HardwareError(.invalidArgument, "a read through the plugin host takes 1-4096 bytes, not \(count)") }
                segments.append(.read(count: count))
            }
        }
        do {
            return try mediated.host.i2cTransfer(bus: UInt32(number), address: UInt8(address.rawValue), segments)
        } catch {
            if error.isDenied {
                throw HardwareError(.permissionDenied, "the plugin host refused \(what) at \(address) on i2c-\(number): \(error.reason). Declare it in the module manifest's capabilities.i2c (bus and address), then pack and install the module again", errno: error.code, location: devicePath)
            }
            if error.code == 38 /* ENOSYS */ { throw HardwareError(.unsupported, "\(what) on \(name): \(error.reason)", errno: error.code, location: devicePath) }
            var mapped = transferError(error.code, what, address)
            if !error.reason.isEmpty { mapped.message += " (the plugin host: \(error.reason))" }
            throw mapped
        }
    }

    // MARK: - SMBus

    public func smbusQuickWrite(_ address: I2CAddress) throws(HardwareError) {
        if brokered(.smbusQuick) { _ = try hostTransfer(address, [.write([])], "SMBus quick write"); return }
        try require(.smbusQuick, "SMBus quick")
        try withAddress(address) { (fd: Int32) throws(HardwareError) in
            if ciot_i2c_smbus_quick(fd, 0) < 0 { throw transferError(ciot_errno(), "SMBus quick write", address) }
        }
    }

    public func smbusReadByte(_ address: I2CAddress) throws(HardwareError) -> UInt8 {
        if brokered(.smbusReadByte) { return try hostTransfer(address, [.read(count: 1)], "SMBus receive byte")[0][0] }
        try require(.smbusReadByte, "SMBus receive byte")
        return try withAddress(address) { (fd: Int32) throws(HardwareError) -> UInt8 in
            let v = ciot_i2c_smbus_read_byte(fd)
            if v < 0 { throw transferError(ciot_errno(), "SMBus receive byte", address) }
            return UInt8(truncatingIfNeeded: v)
        }
    }

    public func smbusWriteByte(_ address: I2CAddress, _ value: UInt8) throws(HardwareError) {
        if brokered(.smbusWriteByte) { _ = try hostTransfer(address, [.write([value])], "SMBus send byte"); return }
        try require(.smbusWriteByte, "SMBus send byte")
        try withAddress(address) { (fd: Int32) throws(HardwareError) in
            if ciot_i2c_smbus_write_byte(fd, value) < 0 { throw transferError(ciot_errno(), "SMBus send byte", address) }
        }
    }

    @inline(__always)
    public func smbusReadByteData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt8 {
        if brokered(.smbusReadByteData) { return try hostTransfer(address, [.write([command]), .read(count: 1)], "reading register \(I2CAddress.hex(Int(command)))")[0][0] }
        return try withAddress(address) { (fd: Int32) throws(HardwareError) -> UInt8 in
            let v = ciot_i2c_smbus_read_byte_data(fd, command)
            if v < 0 { throw transferError(ciot_errno(), "reading register \(I2CAddress.hex(Int(command)))", address) }
            return UInt8(truncatingIfNeeded: v)
        }
    }

    public func smbusWriteByteData(_ address: I2CAddress, command: UInt8, _ value: UInt8) throws(HardwareError) {
        if brokered(.smbusWriteByteData) { _ = try hostTransfer(address, [.write([command, value])], "writing register \(I2CAddress.hex(Int(command)))"); return }
        try withAddress(address) { (fd: Int32) throws(HardwareError) in
            if ciot_i2c_smbus_write_byte_data(fd, command, value) < 0 {
                throw transferError(ciot_errno(), "writing register \(I2CAddress.hex(Int(command)))", address)
            }
        }
    }

    public func smbusReadWordData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt16 {
        if brokered(.smbusReadWordData) {
            let bytes = try hostTransfer(address, [.write([command]), .read(count: 2)], "reading word register \(I2CAddress.hex(Int(command)))")[0]
            return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        }
        try require(.smbusReadWordData, "SMBus read word")
        return try withAddress(address) { (fd: Int32) throws(HardwareError) -> UInt16 in
            let v = ciot_i2c_smbus_read_word_data(fd, command)
            if v < 0 { throw transferError(ciot_errno(), "reading word register \(I2CAddress.hex(Int(command)))", address) }
            return UInt16(truncatingIfNeeded: v)
        }
    }

    public func smbusWriteWordData(_ address: I2CAddress, command: UInt8, _ value: UInt16) throws(HardwareError) {
        if brokered(.smbusWriteWordData) {
            _ = try hostTransfer(address, [.write([command, UInt8(value & 0xFF), UInt8(value >> 8)])], "writing word register \(I2CAddress.hex(Int(command)))")
            return
        }
        try require(.smbusWriteWordData, "SMBus write word")
        try withAddress(address) { (fd: Int32) throws(HardwareError) in
            if ciot_i2c_smbus_write_word_data(fd, command, value) < 0 {
                throw transferError(ciot_errno(), "writing word register \(I2CAddress.hex(Int(command)))", address)
            }
        }
    }

    public func smbusReadI2CBlockData(_ address: I2CAddress, command: UInt8, count: Int) throws(HardwareError) -> [UInt8] {
        try require(.smbusReadI2CBlock, "SMBus I2C-block read")
        guard count > 0, count <= 32 else { throw HardwareError(.invalidArgument, "an SMBus block carries 1-32 bytes, not \(count)") }
        if brokered(.smbusReadI2CBlock) { return try hostTransfer(address, [.write([command]), .read(count: count)], "block read from register \(I2CAddress.hex(Int(command)))")[0] }
        return try withAddress(address) { (fd: Int32) throws(HardwareError) -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBufferPointer { ciot_i2c_smbus_read_i2c_block_data(fd, command, UInt8(count), $0.baseAddress) }
            if n < 0 { throw transferError(ciot_errno(), "block read from register \(I2CAddress.hex(Int(command)))", address) }
            return Array(bytes.prefix(Int(n)))
        }
    }

    public func smbusWriteI2CBlockData(_ address: I2CAddress, command: UInt8, _ bytes: [UInt8]) throws(HardwareError) {
        try require(.smbusWriteI2CBlock, "SMBus I2C-block write")
        guard !bytes.isEmpty, bytes.count <= 32 else { throw HardwareError(.invalidArgument, "an SMBus block carries 1-32 bytes, not \(bytes.count)") }
        if brokered(.smbusWriteI2CBlock) { _ = try hostTransfer(address, [.write([command] + bytes)], "block write to register \(I2CAddress.hex(Int(command)))"); return }
        try withAddress(address) { (fd: Int32) throws(HardwareError) in
            let rc = bytes.withUnsafeBufferPointer { ciot_i2c_smbus_write_i2c_block_data(fd, command, UInt8($0.count), $0.baseAddress) }
            if rc < 0 { throw transferError(ciot_errno(), "block write to register \(I2CAddress.hex(Int(command)))", address) }
        }
    }

    public func probe(_ address: I2CAddress, using probe: I2CProbe) throws(HardwareError) -> Bool {
        if mediated != nil {
            do {
                _ = try hostTransfer(address, probe == .quickWrite ? [.write([])] : [.read(count: 1)], "probing")
                return true
            } catch where error.code == .noAcknowledge {
                return false
            }
        }
        return try withAddress(address) { (fd: Int32) throws(HardwareError) -> Bool in
            switch probe {
            case .quickWrite: return ciot_i2c_smbus_quick(fd, 0) >= 0
            case .readByte: return ciot_i2c_smbus_read_byte(fd) >= 0
            }
        }
    }
}
