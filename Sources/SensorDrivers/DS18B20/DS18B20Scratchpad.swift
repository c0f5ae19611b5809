/// The nine bytes of a 1-Wire thermometer's scratchpad (DS18B20 datasheet, "Memory", Figure 9
/// memory map): temperature LSB and MSB, TH and TL alarm registers, configuration register, three
/// reserved bytes and the CRC of bytes 0–7.
public struct DS18B20Scratchpad: Sendable, Hashable, CustomStringConvertible {
    /// The power-up value of the temperature register, +85 °C (bytes 0 and 1 = 50h 05h).
    public static let powerOnTemperatureRegister: UInt16 = 0x0550
    /// The DS18S20's power-up value, +85 °C at 0.5 °C per bit (00AAh).
    public static let ds18s20PowerOnTemperatureRegister: UInt16 = 0x00AA
    /// The power-up value of reserved byte 6 (0Ch), which a genuine DS18B20 overwrites during a
    /// conversion.
    public static let powerOnReservedByte6: UInt8 = 0x0C

    /// Bytes 0–8 as read.
    public let bytes: [UInt8]

    /// Wraps nine scratchpad bytes.
    /// - Throws: `SensorError(.invalidData)` unless there are exactly nine.
    public init(bytes: [UInt8]) throws(SensorError) {
        guard bytes.count == 9 else {
            throw SensorError(.invalidData, chip: "1-Wire thermometer", "a scratchpad has 9 bytes; got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// The temperature register: byte 1 (MSB) and byte 0 (LSB).
    public var temperatureRegister: UInt16 { UInt16(bytes[1]) << 8 | UInt16(bytes[0]) }
    /// Byte 2: TH, the high alarm limit in whole °C (or user byte 1).
    public var highAlarm: Int8 { Int8(bitPattern: bytes[2]) }
    /// Byte 3: TL, the low alarm limit in whole °C (or user byte 2).
    public var lowAlarm: Int8 { Int8(bitPattern: bytes[3]) }
    /// Byte 4: the configuration register (R1/R0 in bits 6 and 5).
    public var configuration: UInt8 { bytes[4] }
    /// Byte 8: the CRC the device sent.
    public var crc: UInt8 { bytes[8] }

    /// Whether byte 8 is the Dallas/Maxim CRC-8 of bytes 0–7.
    public var isCRCValid: Bool { DallasCRC8.isValid(bytes) }

    /// The resolution the configuration register selects (DS18B20-format families only).
    public var resolution: DS18B20.Resolution { DS18B20.Resolution(configurationRegister: configuration) }

    /// Every byte zero: what a 1-Wire read returns when the data line is held low (a short, or a
    /// sensor that lost power mid-read). Its CRC is 0 as well, so the CRC alone cannot catch it.
    public var isAllZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// "72 01 4b 46 7f ff 0e 10 57", as the kernel prints it.
    public var description: String {
        bytes.map { W1ThermometerFamily.hex($0).lowercased() }.joined(separator: " ")
    }
}
