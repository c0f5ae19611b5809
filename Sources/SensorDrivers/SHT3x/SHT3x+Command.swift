import IoTSDK

extension SHT3x {
    /// A 16-bit SHT3x command, sent most significant byte first (datasheet section 4, Tables 9-19).
    ///
    /// The last bits of every command are a checksum the chip verifies itself, so only the codes
    /// listed here are valid.
    public struct Command: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The 16-bit command code.
        public let rawValue: UInt16

        /// A command from its code; the named constructors below give the valid ones.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// The two bytes on the wire, most significant first.
        public var bytes: [UInt8] { [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)] }

        /// `"0x2400"`.
        public var description: String {
            "0x" + SensirionCRC.hex(UInt8(rawValue >> 8)) + SensirionCRC.hex(UInt8(rawValue & 0xFF))
        }

        /// A single-shot measurement (Table 9). With clock stretching the chip holds SCL low during
        /// the read until it has finished; without, it NACKs the read header until then. The
        /// driver uses the codes without clock stretching and waits instead.
        public static func singleShot(_ repeatability: Repeatability, clockStretching: Bool) -> Command {
            switch (repeatability, clockStretching) {
            case (.high, true): Command(rawValue: 0x2C06)
            case (.medium, true): Command(rawValue: 0x2C0D)
            case (.low, true): Command(rawValue: 0x2C10)
            case (.high, false): Command(rawValue: 0x2400)
            case (.medium, false): Command(rawValue: 0x240B)
            case (.low, false): Command(rawValue: 0x2416)
            }
        }

        /// Starts periodic data acquisition (Table 10).
        public static func periodic(_ rate: MeasurementRate, _ repeatability: Repeatability) -> Command {
            let codes: [UInt16]     // high, medium, low
            switch rate {
            case .halfPerSecond: codes = [0x2032, 0x2024, 0x202F]
            case .onePerSecond: codes = [0x2130, 0x2126, 0x212D]
            case .twoPerSecond: codes = [0x2236, 0x2220, 0x222B]
            case .fourPerSecond: codes = [0x2334, 0x2322, 0x2329]
            case .tenPerSecond: codes = [0x2737, 0x2721, 0x272A]
            }
            switch repeatability {
            case .high: return Command(rawValue: codes[0])
            case .medium: return Command(rawValue: codes[1])
            case .low: return Command(rawValue: codes[2])
            }
        }

        /// Fetch Data: read out the newest periodic measurement (Table 11).
        public static let fetchData = Command(rawValue: 0xE000)
        /// Periodic measurement with accelerated response time, 4 Hz (Table 12).
        public static let accelerateResponse = Command(rawValue: 0x2B32)
        /// Break: stop periodic data acquisition (Table 13).
        public static let `break` = Command(rawValue: 0x3093)
        /// Soft reset (Table 14).
        public static let softReset = Command(rawValue: 0x30A2)
        /// Heater on (Table 16).
        public static let heaterOn = Command(rawValue: 0x306D)
        /// Heater off (Table 16).
        public static let heaterOff = Command(rawValue: 0x3066)
        /// Read out the status register (Table 17).
        public static let readStatus = Command(rawValue: 0xF32D)
        /// Clear the status register's flags (Table 19).
        public static let clearStatus = Command(rawValue: 0x3041)
    }
}
