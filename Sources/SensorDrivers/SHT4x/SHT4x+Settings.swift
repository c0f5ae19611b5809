import IoTSDK

extension SHT4x {
    /// How repeatable (and how long) a measurement is (datasheet section "Timings").
    public enum Precision: String, Sendable, Hashable, CaseIterable, Codable {
        /// Up to 8.3 ms per measurement.
        case high
        /// Up to 4.5 ms per measurement.
        case medium
        /// Up to 1.6 ms per measurement.
        case low
    }

    /// The power of the built-in heater.
    public enum HeaterPower: String, Sendable, Hashable, CaseIterable, Codable {
        /// 200 mW (at 3.3 V supply).
        case milliwatts200
        /// 110 mW.
        case milliwatts110
        /// 20 mW.
        case milliwatts20
    }

    /// How long the built-in heater runs.
    public enum HeaterDuration: String, Sendable, Hashable, CaseIterable, Codable {
        /// About 1 s (at most 1.1 s).
        case oneSecond
        /// About 0.1 s (at most 0.11 s).
        case tenthOfSecond
    }

    /// The settings of an ``SHT4x``.
    public struct Configuration: Sendable, Hashable {
        /// The precision of ``SHT4x/read()``.
        public var precision: Precision

        /// High precision unless told otherwise.
        public init(precision: Precision = .high) {
            self.precision = precision
        }
    }

    /// A one-byte SHT4x command (datasheet section "Command Overview").
    public struct Command: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The command byte.
        public let rawValue: UInt8

        /// A command from its byte; the named constructors below give the valid ones.
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `"0xFD"`.
        public var description: String { "0x" + SensirionCRC.hex(rawValue) }

        /// Measure temperature and humidity: 0xFD (high), 0xF6 (medium), 0xE0 (low precision).
        public static func measure(_ precision: Precision) -> Command {
            switch precision {
            case .high: Command(rawValue: 0xFD)
            case .medium: Command(rawValue: 0xF6)
            case .low: Command(rawValue: 0xE0)
            }
        }

        /// Heat, then measure with high precision just before the heater turns off:
        /// 0x39 / 0x32 (200 mW, 1 s / 0.1 s), 0x2F / 0x24 (110 mW), 0x1E / 0x15 (20 mW).
        public static func heat(_ power: HeaterPower, _ duration: HeaterDuration) -> Command {
            switch (power, duration) {
            case (.milliwatts200, .oneSecond): Command(rawValue: 0x39)
            case (.milliwatts200, .tenthOfSecond): Command(rawValue: 0x32)
            case (.milliwatts110, .oneSecond): Command(rawValue: 0x2F)
            case (.milliwatts110, .tenthOfSecond): Command(rawValue: 0x24)
            case (.milliwatts20, .oneSecond): Command(rawValue: 0x1E)
            case (.milliwatts20, .tenthOfSecond): Command(rawValue: 0x15)
            }
        }

        /// Read the 32-bit serial number (two words with a CRC each).
        public static let readSerialNumber = Command(rawValue: 0x89)
        /// Soft reset.
        public static let softReset = Command(rawValue: 0x94)
    }
}
