extension DS18B20 {
    /// Thermometer resolution, set by bits R1 and R0 of the configuration register (scratchpad
    /// byte 4). Datasheet: "Configuration Register" and Table 2 (Thermometer Resolution
    /// Configuration).
    public enum Resolution: Int, CaseIterable, Sendable, Hashable, CustomStringConvertible {
        /// 0.5 °C steps, 93.75 ms maximum conversion time.
        case bits9 = 9
        /// 0.25 °C steps, 187.5 ms.
        case bits10 = 10
        /// 0.125 °C steps, 375 ms.
        case bits11 = 11
        /// 0.0625 °C steps, 750 ms (the factory default).
        case bits12 = 12

        /// The resolution of `bits` bits.
        /// - Throws: `SensorError(.invalidSetting)` outside 9…12.
        public init(bits: Int) throws(SensorError) {
            guard let resolution = Resolution(rawValue: bits) else {
                throw SensorError(.invalidSetting, chip: "DS18B20", "resolution must be 9, 10, 11 or 12 bits; got \(bits)")
            }
            self = resolution
        }

        /// The resolution that the configuration register's R1/R0 bits (bits 6 and 5) select.
        public init(configurationRegister: UInt8) {
            self = Resolution(rawValue: 9 + Int((configurationRegister >> 5) & 0b11)) ?? .bits12
        }

        /// The number of bits.
        public var bits: Int { rawValue }

        /// The weight of the least significant valid bit, in °C (0.5 at 9 bits … 0.0625 at 12).
        public var stepCelsius: Double { 0.5 / Double(1 << (rawValue - 9)) }

        /// The datasheet's maximum conversion time: t_CONV = 750 ms at 12 bits, halved per bit less.
        public var maximumConversionTime: Duration { .microseconds(750_000 >> (12 - rawValue)) }

        /// The configuration register value for this resolution: 0 R1 R0 1 1 1 1 1.
        public var configurationRegister: UInt8 { 0x1F | UInt8(rawValue - 9) << 5 }

        /// The bits of the temperature register that hold data at this resolution; the datasheet
        /// leaves bit 0 undefined at 11 bits, bits 1–0 at 10 and bits 2–0 at 9.
        public var temperatureRegisterMask: UInt16 { 0xFFFF << UInt16(12 - rawValue) }

        public var description: String { "\(rawValue)-bit" }
    }
}
