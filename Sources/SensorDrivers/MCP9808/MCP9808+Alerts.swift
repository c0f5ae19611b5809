import IoTSDK

/// Changing settings, and the alert output (datasheet "Alert Output Configuration").
extension MCP9808 {
    /// Writes a new configuration: resolution, power mode, alert output and limits.
    ///
    /// Registers: reads CONFIG (01h); writes 08h, the limits (02h-04h) when an alert is configured,
    /// and CONFIG, reading back what it wrote. Waking from shutdown into continuous mode makes the
    /// next ``read()`` wait one conversion.
    /// - Throws: `SensorError(.invalidSetting)` for limits outside the registers' range or when
    ///   locked limits refuse the change; `HardwareError` from the bus.
    public func configure(_ configuration: Configuration) throws {
        try configuration.validate()
        let current = try device.readRegister16(Register.configuration)
        try apply(configuration, current: current)
        if configuration.powerMode == .continuous && current & ConfigBits.shutdown != 0 {
            readyAt = .now + configuration.resolution.conversionWait
        }
    }

    /// Reads T_UPPER, T_LOWER and T_CRIT (02h, 03h, 04h).
    /// - Throws: `HardwareError`; `QuantityError` for an impossible value.
    public func readLimits() throws -> Limits {
        let upper = try device.readRegister16(Register.upperLimit)
        let lower = try device.readRegister16(Register.lowerLimit)
        let critical = try device.readRegister16(Register.criticalLimit)
        return Limits(upper: try .celsius(Self.celsius(limitRegister: upper)),
                      lower: try .celsius(Self.celsius(limitRegister: lower)),
                      critical: try .celsius(Self.celsius(limitRegister: critical)))
    }

    /// Whether the alert output is asserted (CONFIG Alert Stat., bit 4), whatever its polarity.
    /// - Throws: `HardwareError`.
    public func isAlertAsserted() throws -> Bool {
        try device.readRegister16(Register.configuration) & ConfigBits.alertStatus != 0
    }

    /// Releases an interrupt-mode alert (writes CONFIG with Int. Clear = 1; the bit reads back 0).
    /// - Throws: `HardwareError`.
    public func clearInterrupt() throws {
        try device.writeRegister16(Register.configuration, configWord | ConfigBits.interruptClear)
    }

    /// Locks T_UPPER, T_LOWER and T_CRIT (CONFIG Win. Lock and Crit. Lock) against accidental writes.
    ///
    /// Irreversible until the chip is power-cycled: while locked the limits, the alert settings and
    /// hysteresis cannot change and the chip cannot be shut down.
    /// - Throws: `SensorError(.invalidData)` when the lock bits do not read back set; `HardwareError`.
    public func lockLimits() throws {
        let word = configWord | ConfigBits.locks
        try device.writeRegister16(Register.configuration, word)
        let readBack = try device.readRegister16(Register.configuration)
        guard readBack & ConfigBits.locks == ConfigBits.locks else {
            throw SensorError(.invalidData, chip: chip, "CONFIG (01h) reads \(Self.hex(readBack)) after \(Self.hex(word)) was written: the lock bits did not set")
        }
    }
}
