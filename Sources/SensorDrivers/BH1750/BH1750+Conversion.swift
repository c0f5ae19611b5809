import IoTSDK

extension BH1750 {
    /// The illuminance for a 16-bit count: count / 1.2 × (69 / MTreg), halved in H-resolution
    /// mode 2, whose least significant bit is 0.5 lx (datasheet "I2C Bus Access" read-format
    /// example, and "Adjust measurement result for influence of optical window"). 1.2 is the
    /// typical "measurement accuracy" (sensor out / actual lx) of the electrical characteristics.
    public static func illuminance(count: UInt16, resolution: Resolution, measurementTime: MeasurementTime = .default) -> Illuminance {
        var lux = Double(count) / 1.2 * (69 / Double(measurementTime.rawValue))
        if resolution == .high2 { lux /= 2 }
        return .lux(lux)
    }

    /// The longest a measurement takes: 180 ms (H-resolution modes) or 24 ms (L-resolution) at
    /// the default MTreg (electrical characteristics, maxima), scaled by MTreg / 69 and rounded up
    /// to the next microsecond.
    public static func maximumMeasurementDuration(_ resolution: Resolution, measurementTime: MeasurementTime = .default) -> Duration {
        let atDefault = resolution == .low ? 24_000 : 180_000           // µs
        let scaled = (atDefault * Int(measurementTime.rawValue) + 68) / 69
        return .microseconds(scaled)
    }
}
