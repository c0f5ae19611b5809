/// Byte order of multi-byte registers.
public enum ByteOrder: Sendable, Hashable {
    /// Most significant byte first (most sensors: BME280 data, SHT3x, INA219).
    case bigEndian
    /// Least significant byte first (SMBus words, BME280 calibration).
    case littleEndian
}

/// A device at one address on a bus, with register helpers that use plain I2C transfers where
/// the adapter has them and the SMBus calls where it is SMBus-only.
///
/// Register reads use one write-then-read with a repeated start (I2C_RDWR), or on SMBus-only
/// adapters the matching SMBus call: byte data (1 byte), word data (2 bytes, low byte first on
/// the wire), or I2C block reads of up to 32 bytes
/// (longer blocks are read 32 bytes at a time from consecutive registers, which is right for the
/// auto-incrementing register files almost all sensors have).
public struct I2CDevice: Sendable {
    public let bus: any I2CBus
    public let address: I2CAddress
    /// The adapter's functionality, read once: the register calls consult it on every access.
    @usableFromInline let functionality: I2CFunctionality
    @usableFromInline let readsByteData: Bool
    @usableFromInline let writesByteData: Bool

    public init(bus: any I2CBus, address: I2CAddress) {
        self.bus = bus
        self.address = address
        functionality = bus.functionality
        readsByteData = functionality.contains(.smbusReadByteData)
        writesByteData = functionality.contains(.smbusWriteByteData)
    }

    // MARK: - Raw bytes

    /// Writes `bytes` in one message.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        if functionality.contains(.i2c) {
            _ = try bus.transfer(address, [.write(bytes)])
            return
        }
        switch bytes.count {
        case 0 where functionality.contains(.smbusQuick):
            try bus.smbusQuickWrite(address)
        case 1 where functionality.contains(.smbusWriteByte):
            try bus.smbusWriteByte(address, bytes[0])
        case 2 where functionality.contains(.smbusWriteByteData):
            try bus.smbusWriteByteData(address, command: bytes[0], bytes[1])
        case 2...33 where functionality.contains(.smbusWriteI2CBlock):
            try bus.smbusWriteI2CBlockData(address, command: bytes[0], Array(bytes[1...]))
        default:
            throw unsupported("writing \(bytes.count) bytes in one message")
        }
    }

    /// Reads `count` bytes in one message.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        try checkCount(count)
        if functionality.contains(.i2c) {
            return try bus.transfer(address, [.read(count: count)]).first ?? []
        }
        if count == 1 && functionality.contains(.smbusReadByte) {
            return [try bus.smbusReadByte(address)]
        }
        throw unsupported("reading \(count) bytes without a register address")
    }

    /// Writes `bytes`, then reads `count` bytes after a repeated start (no stop in between).
    public func writeRead(_ bytes: [UInt8], count: Int) throws(HardwareError) -> [UInt8] {
        try checkCount(count)
        if functionality.contains(.i2c) {
            return try bus.transfer(address, [.write(bytes), .read(count: count)]).last ?? []
        }
        guard bytes.count == 1 else {
            throw unsupported("a write-then-read with a \(bytes.count)-byte address")
        }
        return try smbusReadRegisters(bytes[0], count: count)
    }

    // MARK: - Registers

    /// Reads one 8-bit register (one SMBus read-byte-data call where the adapter has it, which is
    /// what the kernel does for it on I2C adapters too).
    @inlinable
    public func readRegister(_ register: UInt8) throws(HardwareError) -> UInt8 {
        if readsByteData {
            return try bus.smbusReadByteData(address, command: register)
        }
        return try writeRead([register], count: 1)[0]
    }

    /// Writes one 8-bit register.
    @inlinable
    public func writeRegister(_ register: UInt8, _ value: UInt8) throws(HardwareError) {
        if writesByteData {
            try bus.smbusWriteByteData(address, command: register, value)
        } else {
            try write([register, value])
        }
    }

    /// Reads a 16-bit register (two consecutive bytes) in the given byte order.
    public func readRegister16(_ register: UInt8, byteOrder: ByteOrder = .bigEndian) throws(HardwareError) -> UInt16 {
        let bytes = try readRegisters(register, count: 2)
        let first = UInt16(bytes[0])
        let second = UInt16(bytes[1])
        return byteOrder == .bigEndian ? first << 8 | second : second << 8 | first
    }

    /// Writes a 16-bit register in the given byte order.
    public func writeRegister16(_ register: UInt8, _ value: UInt16, byteOrder: ByteOrder = .bigEndian) throws(HardwareError) {
        let high = UInt8(value >> 8)
        let low = UInt8(value & 0xFF)
        try writeRegisters(register, byteOrder == .bigEndian ? [high, low] : [low, high])
    }

    /// Reads `count` consecutive registers from `register` on, in one transfer where possible.
    public func readRegisters(_ register: UInt8, count: Int) throws(HardwareError) -> [UInt8] {
        try writeRead([register], count: count)
    }

    /// Writes consecutive registers from `register` on.
    public func writeRegisters(_ register: UInt8, _ values: [UInt8]) throws(HardwareError) {
        if functionality.contains(.i2c) {
            _ = try bus.transfer(address, [.write([register] + values)])
            return
        }
        if values.count == 1 {
            try writeRegister(register, values[0])
            return
        }
        if values.count == 2 && functionality.contains(.smbusWriteWordData) {
            try bus.smbusWriteWordData(address, command: register, UInt16(values[0]) | UInt16(values[1]) << 8)
            return
        }
        guard functionality.contains(.smbusWriteI2CBlock) else {
            throw unsupported("writing \(values.count) registers")
        }
        var start = 0
        while start < values.count {
            let end = min(start + 32, values.count)
            try bus.smbusWriteI2CBlockData(address, command: register &+ UInt8(truncatingIfNeeded: start), Array(values[start..<end]))
            start = end
        }
    }

    /// Reads registers over SMBus calls, as the adapter allows.
    private func smbusReadRegisters(_ register: UInt8, count: Int) throws(HardwareError) -> [UInt8] {
        if count == 1 && functionality.contains(.smbusReadByteData) {
            return [try bus.smbusReadByteData(address, command: register)]
        }
        // Two bytes: SMBus read-word, the same bytes on the wire as a 2-byte block read, and
        // offered by more SMBus controllers (some have no I2C-block commands). The first byte on
        // the wire is the word's low byte.
        if count == 2 && functionality.contains(.smbusReadWordData) {
            let word = try bus.smbusReadWordData(address, command: register)
            return [UInt8(word & 0xFF), UInt8(word >> 8)]
        }
        if functionality.contains(.smbusReadI2CBlock) {
            var result: [UInt8] = []
            result.reserveCapacity(count)
            while result.count < count {
                let chunk = min(32, count - result.count)
                let bytes = try bus.smbusReadI2CBlockData(address, command: register &+ UInt8(truncatingIfNeeded: result.count), count: chunk)
                guard bytes.count == chunk else {
                    throw HardwareError(.ioError, "\(address) on \(bus.name) returned \(bytes.count) of \(chunk) bytes", location: bus.name)
                }
                result += bytes
            }
            return result
        }
        if functionality.contains(.smbusReadByteData) {
            var result: [UInt8] = []
            for i in 0..<count {
                result.append(try bus.smbusReadByteData(address, command: register &+ UInt8(truncatingIfNeeded: i)))
            }
            return result
        }
        throw unsupported("reading \(count) registers")
    }

    private func checkCount(_ count: Int) throws(HardwareError) {
        guard count > 0, count <= 65535 else {
            throw HardwareError(.invalidArgument, "an I2C read needs 1-65535 bytes, not \(count)")
        }
    }

    private func unsupported(_ what: String) -> HardwareError {
        HardwareError(.unsupported, "\(bus.name) cannot do \(what) at \(address): the adapter offers only [\(functionality)]\(functionality.contains(.i2c) ? "" : " (it is SMBus-only: no I2C_RDWR)")", location: bus.name)
    }
}
