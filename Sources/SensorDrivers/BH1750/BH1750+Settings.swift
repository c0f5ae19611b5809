import IoTSDK

extension BH1750 {
    /// The measurement resolution (datasheet "Measurement mode explanation").
    public enum Resolution: String, Sendable, Hashable, CaseIterable, Codable {
        /// H-resolution mode: 1 lx per step at the default measurement time, up to 180 ms.
        case high
        /// H-resolution mode 2: 0.5 lx per step, up to 180 ms; for dark scenes.
        case high2
        /// L-resolution mode: 4 lx resolution, up to 24 ms.
        case low
    }

    /// Whether the chip measures all the time or once per ``BH1750/read()``.
    public enum Mode: String, Sendable, Hashable, CaseIterable, Codable {
        /// Continuous measurement: the chip keeps measuring while powered on.
        case continuous
        /// One-time measurement: the chip measures once per read and powers down after it.
        case oneTime
    }

    /// The measurement-time register MTreg, 31…254 (default 69).
    ///
    /// It scales both the sensitivity and the measurement time by MTreg / 69 (datasheet "Adjust
    /// measurement result for influence of optical window"): a larger value gives finer steps in
    /// the dark (down to 0.11 lx at 254 in H-resolution mode 2) and a longer measurement; a
    /// smaller one extends the range (to about 100 000 lx at 31).
    public struct MeasurementTime: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        /// The register value, 31…254.
        public let rawValue: UInt8

        /// The values the register takes.
        public static let validRange: ClosedRange<UInt8> = 31...254
        /// The power-on value, 69.
        public static let `default` = MeasurementTime(uncheckedValue: 69)

        /// Fails outside 31…254.
        public init?(rawValue: UInt8) {
            guard Self.validRange.contains(rawValue) else { return nil }
            self.rawValue = rawValue
        }

        /// Validates a value from input.
        /// - Throws: `SensorError(.invalidSetting)` outside 31…254.
        public init(validating value: Int) throws(SensorError) {
            guard let byte = UInt8(exactly: value), let time = MeasurementTime(rawValue: byte) else {
                throw SensorError(.invalidSetting, chip: "BH1750",
                    "measurement time register (MTreg) \(value) is out of range: the BH1750 takes 31…254 (default 69)")
            }
            self = time
        }

        private init(uncheckedValue: UInt8) { rawValue = uncheckedValue }

        /// Orders by register value.
        public static func < (a: MeasurementTime, b: MeasurementTime) -> Bool { a.rawValue < b.rawValue }

        /// `"MTreg 69"`.
        public var description: String { "MTreg \(rawValue)" }

        /// The two opcodes that load the register: 01000_MT[7:5] and 011_MT[4:0].
        public var opcodes: [UInt8] { [0x40 | rawValue >> 5, 0x60 | rawValue & 0x1F] }
    }

    /// The settings of a ``BH1750``.
    public struct Configuration: Sendable, Hashable {
        /// H-resolution, H-resolution 2 or L-resolution.
        public var resolution: Resolution
        /// Continuous or one-time measurement.
        public var mode: Mode
        /// The measurement-time register.
        public var measurementTime: MeasurementTime

        /// Continuous H-resolution measurements at the default measurement time unless told otherwise.
        public init(resolution: Resolution = .high, mode: Mode = .continuous, measurementTime: MeasurementTime = .default) {
            self.resolution = resolution
            self.mode = mode
            self.measurementTime = measurementTime
        }
    }

    /// The BH1750's one-byte opcodes (datasheet "Instruction Set Architecture").
    public enum Opcode {
        /// Power Down: no active state.
        public static let powerDown: UInt8 = 0x00
        /// Power On: waiting for a measurement command.
        public static let powerOn: UInt8 = 0x01
        /// Reset: clears the data register; not accepted in power-down.
        public static let reset: UInt8 = 0x07

        /// The measurement command for a resolution and mode: 0x10 / 0x11 / 0x13 continuous,
        /// 0x20 / 0x21 / 0x23 one-time.
        public static func measure(_ resolution: Resolution, _ mode: Mode) -> UInt8 {
            let base: UInt8 = mode == .continuous ? 0x10 : 0x20
            switch resolution {
            case .high: return base
            case .high2: return base | 0x01
            case .low: return base | 0x03
            }
        }
    }
}
