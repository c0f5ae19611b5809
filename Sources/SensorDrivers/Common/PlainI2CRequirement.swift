import IoTSDK

extension I2CDevice {
    /// Throws unless the adapter can do plain I2C transfers (I2C_RDWR).
    ///
    /// Chips that answer a command with a read that has no register address (Sensirion SHT3x/SHT4x,
    /// ROHM BH1750) cannot be driven through SMBus calls: `read(count:)` of more than one byte is
    /// `.unsupported` there. Drivers check this once, when they are created, so that the failure
    /// names the chip and the fix instead of surfacing at the first measurement.
    ///
    /// - Parameters:
    ///   - chip: The part and where it is, for the error.
    ///   - protocol: What the chip's protocol needs, e.g. "16-bit commands followed by a 6-byte read".
    /// - Throws: `SensorError(.unsupported)` on SMBus-only adapters.
    func requirePlainI2C(chip: String, protocol needs: String) throws(SensorError) {
        guard bus.functionality.contains(.i2c) else {
            throw SensorError(.unsupported, chip: chip,
                "this chip needs an I2C-capable adapter (I2C_RDWR) for \(needs), but \(bus.name) is SMBus-only "
                + "[\(bus.functionality)]: connect it to a real I2C controller (on a Raspberry Pi, i2c-1) instead of an "
                + "SMBus host or i2c-stub")
        }
    }
}
