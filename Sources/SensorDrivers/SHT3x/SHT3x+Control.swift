import IoTSDK

extension SHT3x {
    // MARK: - Settings

    /// Switches between single-shot, periodic and ART mode.
    ///
    /// Leaves periodic mode with Break (0x3093, Table 13) and waits 1 ms, then starts the new
    /// periodic mode (Table 10) or ART (0x2B32, Table 12).
    ///
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func setMode(_ mode: Mode) async throws {
        try await access.run {
            if configuration.mode != .singleShot { try await send(.break, busyFor: Self.breakDuration) }
            try await waitUntilIdle()
            configuration.mode = mode
            try startConfiguredMode()
        }
    }

    /// Changes the repeatability; in periodic mode the chip is restarted with the new setting.
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func setRepeatability(_ repeatability: Repeatability) async throws {
        try await access.run {
            try await whilePeriodicPaused { configuration.repeatability = repeatability }
        }
    }

    // MARK: - Heater, status, reset

    /// Turns the built-in heater on or off (0x306D / 0x3066, section 4.10). The heater only warms
    /// the sensor (for plausibility checks or to drive off condensation); readings taken while it
    /// is on are higher than the ambient temperature.
    ///
    /// In periodic mode the driver sends Break first and restarts periodic mode afterwards, as the
    /// datasheet recommends for every command but Fetch Data (section 4.8).
    ///
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func setHeater(_ on: Bool) async throws {
        try await access.run {
            try await whilePeriodicPaused { try send(on ? .heaterOn : .heaterOff) }
        }
    }

    /// Reads the status register (0xF32D, Table 17/18): heater state, alerts, reset detected, and
    /// whether the last command or write was rejected.
    ///
    /// - Throws: `SensorError(.checksumMismatch)` if the reply fails its CRC; `HardwareError`;
    ///   `CancellationError`.
    public func readStatus() async throws -> Status {
        try await access.run {
            try await whilePeriodicPaused { try statusRegister() }
        }
    }

    /// Clears the alert and reset-detected flags of the status register (0x3041, Table 19).
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func clearStatus() async throws {
        try await access.run {
            try await whilePeriodicPaused { try send(.clearStatus) }
        }
    }

    /// Soft-resets the chip (0x30A2, section 4.9) and waits its maximum reset time (1.5 ms). The
    /// chip reloads its calibration, turns the heater off and sets the status register's reset
    /// flag; the driver then restarts the configured periodic or ART mode.
    ///
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func softReset() async throws {
        try await access.run {
            try await stopAndReset()
            try startConfiguredMode()
        }
    }

    /// Runs `body` with periodic acquisition stopped (Break + 1 ms), then restarts the configured
    /// mode. In single-shot mode it only waits for the last command to finish.
    private func whilePeriodicPaused<T>(_ body: () async throws -> T) async throws -> T {
        let periodic = configuration.mode != .singleShot
        if periodic { try await send(.break, busyFor: Self.breakDuration) }
        try await waitUntilIdle()
        let result = try await body()
        if periodic { try startConfiguredMode() }
        return result
    }
}
