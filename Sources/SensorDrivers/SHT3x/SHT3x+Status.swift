import IoTSDK

extension SHT3x {
    /// The status register (datasheet section 4.11, Table 18), read with ``SHT3x/readStatus()``.
    public struct Status: OptionSet, Sendable, Hashable, CustomStringConvertible {
        /// The 16-bit register value.
        public let rawValue: UInt16

        /// The flags of a register value.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// Bit 15: at least one alert is pending.
        public static let alertPending = Status(rawValue: 1 << 15)
        /// Bit 13: the heater is on.
        public static let heaterOn = Status(rawValue: 1 << 13)
        /// Bit 11: humidity tracking alert.
        public static let humidityTrackingAlert = Status(rawValue: 1 << 11)
        /// Bit 10: temperature tracking alert.
        public static let temperatureTrackingAlert = Status(rawValue: 1 << 10)
        /// Bit 4: a reset (power-up, soft reset, supply drop) happened since the last clear.
        public static let resetDetected = Status(rawValue: 1 << 4)
        /// Bit 1: the last command was not processed (invalid, or its built-in checksum failed).
        public static let commandFailed = Status(rawValue: 1 << 1)
        /// Bit 0: the checksum of the last write transfer failed.
        public static let writeChecksumFailed = Status(rawValue: 1 << 0)

        /// The set flags, such as `"[heater on, reset detected]"`.
        public var description: String {
            let names: [(Status, String)] = [
                (.alertPending, "alert pending"), (.heaterOn, "heater on"),
                (.humidityTrackingAlert, "RH tracking alert"), (.temperatureTrackingAlert, "T tracking alert"),
                (.resetDetected, "reset detected"), (.commandFailed, "command failed"),
                (.writeChecksumFailed, "write checksum failed"),
            ]
            let set = names.filter { contains($0.0) }.map(\.1)
            return set.isEmpty ? "[]" : "[" + set.joined(separator: ", ") + "]"
        }
    }
}
