import Synchronization

/// A device on the simulated I2C bus.
public protocol SimulatedI2CDevice: AnyObject, Sendable {
    /// A write message (for register devices: the register address, then data).
    func write(_ bytes: [UInt8]) throws(HardwareError)
    /// A read message of `count` bytes.
    func read(count: Int) throws(HardwareError) -> [UInt8]
}

/// A register-file device: a 256-byte register map with an address pointer that the first byte
/// of a write sets and that every byte read or written advances, as in most sensors and EEPROMs.
public final class RegisterFileDevice: SimulatedI2CDevice {
    private let state: Mutex<(registers: [UInt8], pointer: UInt8)>

    public init(registers: [UInt8: UInt8] = [:]) {
        var file = [UInt8](repeating: 0, count: 256)
        for (register, value) in registers { file[Int(register)] = value }
        state = Mutex((file, 0))
    }

    public subscript(register: UInt8) -> UInt8 {
        get { state.withLock { $0.registers[Int(register)] } }
        set { state.withLock { $0.registers[Int(register)] = newValue } }
    }

    /// Stores `bytes` from `register` on.
    public func load(_ bytes: [UInt8], at register: UInt8) {
        state.withLock { s in
            for (i, byte) in bytes.enumerated() { s.registers[Int(register &+ UInt8(truncatingIfNeeded: i))] = byte }
        }
    }

    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        state.withLock { s in
            guard let first = bytes.first else { return }
            s.pointer = first
            for byte in bytes.dropFirst() {
                s.registers[Int(s.pointer)] = byte
                s.pointer &+= 1
            }
        }
    }

    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            (0..<count).map { _ in
                defer { s.pointer &+= 1 }
                return s.registers[Int(s.pointer)]
            }
        }
    }
}

/// One operation the simulated bus carried out, for tests that check a driver's transactions.
public enum I2CTraceEntry: Sendable, Hashable {
    case transfer(address: UInt16, messages: [I2CMessage])
    case smbus(address: UInt16, operation: String, command: UInt8?, bytes: [UInt8])
}

/// An I2C bus in memory with devices at addresses. `functionality` can be restricted (e.g. to
/// `.smbusOnly`) to exercise the fallbacks an SMBus-only adapter forces. Every operation is
/// recorded in `trace`.
public final class SimulatedI2CBus: I2CBus {
    public let name: String
    public let functionality: I2CFunctionality
    private let devices: Mutex<[UInt16: any SimulatedI2CDevice]>
    private let log = Mutex<[I2CTraceEntry]>([])

    public init(name: String = "simulated i2c-1", functionality: I2CFunctionality = .fullI2C,
                devices: [I2CAddress: any SimulatedI2CDevice] = [:]) {
        self.name = name
        self.functionality = functionality
        self.devices = Mutex(Dictionary(uniqueKeysWithValues: devices.map { ($0.key.rawValue, $0.value) }))
    }

    /// Adds (or replaces) a device.
    public func attach(_ device: any SimulatedI2CDevice, at address: I2CAddress) {
        devices.withLock { $0[address.rawValue] = device }
    }

    public func detach(_ address: I2CAddress) {
        _ = devices.withLock { $0.removeValue(forKey: address.rawValue) }
    }

    /// What the bus has done so far.
    public var trace: [I2CTraceEntry] { log.withLock { $0 } }

    public func clearTrace() { log.withLock { $0.removeAll() } }

    private func device(_ address: I2CAddress) throws(HardwareError) -> any SimulatedI2CDevice {
        guard let device = devices.withLock({ $0[address.rawValue] }) else {
            throw HardwareError(.noAcknowledge, "no device answered at \(address) on \(name)", errno: 6, location: name)
        }
        return device
    }

    private func require(_ needed: I2CFunctionality, _ what: String) throws(HardwareError) {
        guard functionality.contains(needed) else {
            throw HardwareError(.unsupported, "\(name) cannot do \(what): the adapter offers only [\(functionality)]", location: name)
        }
    }

    private func record(_ entry: I2CTraceEntry) { log.withLock { $0.append(entry) } }

    public func transfer(_ address: I2CAddress, _ messages: [I2CMessage]) throws(HardwareError) -> [[UInt8]] {
        guard functionality.contains(.i2c) else {
            throw HardwareError(.unsupported, "\(name) is SMBus-only: it cannot do plain I2C transfers (I2C_RDWR)", location: name)
        }
        record(.transfer(address: address.rawValue, messages: messages))
        let target = try device(address)
        var reads: [[UInt8]] = []
        for message in messages {
            switch message {
            case .write(let bytes): try target.write(bytes)
            case .read(let count): reads.append(try target.read(count: count))
            }
        }
        return reads
    }

    public func smbusQuickWrite(_ address: I2CAddress) throws(HardwareError) {
        try require(.smbusQuick, "SMBus quick")
        record(.smbus(address: address.rawValue, operation: "quick", command: nil, bytes: []))
        _ = try device(address)
    }

    public func smbusReadByte(_ address: I2CAddress) throws(HardwareError) -> UInt8 {
        try require(.smbusReadByte, "SMBus receive byte")
        record(.smbus(address: address.rawValue, operation: "read-byte", command: nil, bytes: []))
        return try device(address).read(count: 1)[0]
    }

    public func smbusWriteByte(_ address: I2CAddress, _ value: UInt8) throws(HardwareError) {
        try require(.smbusWriteByte, "SMBus send byte")
        record(.smbus(address: address.rawValue, operation: "write-byte", command: nil, bytes: [value]))
        try device(address).write([value])
    }

    public func smbusReadByteData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt8 {
        try require(.smbusReadByteData, "SMBus read byte data")
        record(.smbus(address: address.rawValue, operation: "read-byte-data", command: command, bytes: []))
        let target = try device(address)
        try target.write([command])
        return try target.read(count: 1)[0]
    }

    public func smbusWriteByteData(_ address: I2CAddress, command: UInt8, _ value: UInt8) throws(HardwareError) {
        try require(.smbusWriteByteData, "SMBus write byte data")
        record(.smbus(address: address.rawValue, operation: "write-byte-data", command: command, bytes: [value]))
        try device(address).write([command, value])
    }

    public func smbusReadWordData(_ address: I2CAddress, command: UInt8) throws(HardwareError) -> UInt16 {
        try require(.smbusReadWordData, "SMBus read word")
        record(.smbus(address: address.rawValue, operation: "read-word-data", command: command, bytes: []))
        let target = try device(address)
        try target.write([command])
        let bytes = try target.read(count: 2)
        return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
    }

    public func smbusWriteWordData(_ address: I2CAddress, command: UInt8, _ value: UInt16) throws(HardwareError) {
        try require(.smbusWriteWordData, "SMBus write word")
        record(.smbus(address: address.rawValue, operation: "write-word-data", command: command, bytes: [UInt8(value & 0xFF), UInt8(value >> 8)]))
        try device(address).write([command, UInt8(value & 0xFF), UInt8(value >> 8)])
    }

    public func smbusReadI2CBlockData(_ address: I2CAddress, command: UInt8, count: Int) throws(HardwareError) -> [UInt8] {
        try require(.smbusReadI2CBlock, "SMBus I2C-block read")
        guard count > 0, count <= 32 else { throw HardwareError(.invalidArgument, "an SMBus block carries 1-32 bytes, not \(count)") }
        record(.smbus(address: address.rawValue, operation: "read-i2c-block", command: command, bytes: [UInt8(count)]))
        let target = try device(address)
        try target.write([command])
        return try target.read(count: count)
    }

    public func smbusWriteI2CBlockData(_ address: I2CAddress, command: UInt8, _ bytes: [UInt8]) throws(HardwareError) {
        try require(.smbusWriteI2CBlock, "SMBus I2C-block write")
        guard !bytes.isEmpty, bytes.count <= 32 else { throw HardwareError(.invalidArgument, "an SMBus block carries 1-32 bytes, not \(bytes.count)") }
        record(.smbus(address: address.rawValue, operation: "write-i2c-block", command: command, bytes: bytes))
        try device(address).write([command] + bytes)
    }

    public func probe(_ address: I2CAddress, using probe: I2CProbe) throws(HardwareError) -> Bool {
        devices.withLock { $0[address.rawValue] != nil }
    }
}
