import IoTSDK

/// The MCP9808 register map (datasheet DS25095/DS20005095, "Register Map"): a pointer byte selects a
/// register; all are 16 bits, most significant byte first, except the 8-bit Resolution register.
extension MCP9808 {
    enum Register {
        static let configuration: UInt8 = 0x01
        static let upperLimit: UInt8 = 0x02
        static let lowerLimit: UInt8 = 0x03
        static let criticalLimit: UInt8 = 0x04
        static let ambientTemperature: UInt8 = 0x05
        static let manufacturerID: UInt8 = 0x06
        static let deviceID: UInt8 = 0x07
        static let resolution: UInt8 = 0x08

        /// Microchip's manufacturer ID (register 06h).
        static let expectedManufacturerID: UInt16 = 0x0054
        /// The MCP9808's device ID (upper byte of register 07h; the lower byte is the revision).
        static let expectedDeviceID: UInt8 = 0x04
    }

    /// CONFIG register fields (Sensor Configuration Register).
    enum ConfigBits {
        static let hysteresisShift: UInt16 = 9
        static let shutdown: UInt16 = 1 << 8
        static let criticalLock: UInt16 = 1 << 7
        static let windowLock: UInt16 = 1 << 6
        static let interruptClear: UInt16 = 1 << 5
        static let alertStatus: UInt16 = 1 << 4
        static let alertEnable: UInt16 = 1 << 3
        static let criticalOnly: UInt16 = 1 << 2
        static let activeHigh: UInt16 = 1 << 1
        static let interruptMode: UInt16 = 1 << 0
        static let locks: UInt16 = criticalLock | windowLock
        /// The bits that store what the driver writes: T_HYST, SHDN, the four alert settings.
        static let settings: UInt16 = 0x070F
    }

    /// The CONFIG word for `configuration` (pure): lock bits, Int. Clear and Alert Stat. written 0.
    static func configWord(_ configuration: Configuration, shutdown: Bool) -> UInt16 {
        var word: UInt16 = shutdown ? ConfigBits.shutdown : 0
        guard let alert = configuration.alert else { return word }
        word |= alert.hysteresis.rawValue << ConfigBits.hysteresisShift | ConfigBits.alertEnable
        if alert.criticalOnly { word |= ConfigBits.criticalOnly }
        if alert.polarity == .activeHigh { word |= ConfigBits.activeHigh }
        if alert.mode == .interrupt { word |= ConfigBits.interruptMode }
        return word
    }
}
