import IoTSDK

// Pure conversions from register values (Register Map 4.2, 4.17, 4.18, 4.19), kept apart from
// I/O so that tests check them against the register map directly.

extension MPU6050 {
    /// One sample: the three quantities one burst read of 0x3B…0x48 returns, all from the same
    /// sampling instant (Register Map 4.17: the user-facing registers are copied while the
    /// interface is idle).
    ///
    /// The axes are the chip's own, as the Product Specification's figure "Orientation of Axes
    /// of Sensitivity and Polarity of Rotation" (and most breakout boards' silkscreen) shows:
    /// X and Y in the package plane, Z out of its top.
    public struct Measurement: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Specific force along each axis: +1 g on Z when the chip lies flat, face up.
        public var acceleration: Vector3<Acceleration>
        /// The die temperature, not the air's: it reads a few degrees above ambient.
        public var temperature: Temperature
        /// Rotation rate about each axis.
        public var angularVelocity: Vector3<AngularVelocity>

        /// A measurement from its parts.
        public init(acceleration: Vector3<Acceleration>, temperature: Temperature, angularVelocity: Vector3<AngularVelocity>) {
            self.acceleration = acceleration
            self.temperature = temperature
            self.angularVelocity = angularVelocity
        }

        /// The three quantities, for logs.
        public var description: String {
            "acceleration \(acceleration), temperature \(temperature), angular velocity \(angularVelocity)"
        }
    }

    /// An acceleration from a raw ACCEL_xOUT value: raw / sensitivity g (Register Map 4.17).
    public static func acceleration(raw: Int16, range: AccelerometerRange) -> Acceleration {
        .gravities(Double(raw) / range.sensitivity)
    }

    /// An angular velocity from a raw GYRO_xOUT value: raw / sensitivity °/s (Register Map 4.19).
    public static func angularVelocity(raw: Int16, range: GyroscopeRange) -> AngularVelocity {
        .degreesPerSecond(Double(raw) / range.sensitivity)
    }

    /// The temperature from TEMP_OUT: raw / 340 + 36.53 °C (Register Map 4.18).
    ///
    /// - Throws: `QuantityError` for a result below absolute zero, which no 16-bit value gives.
    public static func temperature(raw: Int16) throws(QuantityError) -> Temperature {
        try .celsius(Double(raw) / 340 + 36.53)
    }

    /// Decodes the 14 bytes of a burst read from ACCEL_XOUT_H (0x3B) on: accelerometer X, Y, Z,
    /// temperature, gyroscope X, Y, Z, each a big-endian two's-complement 16-bit value.
    ///
    /// - Throws: `SensorError(.invalidData)` unless there are exactly 14 bytes;
    ///   `QuantityError` as ``temperature(raw:)`` does.
    public static func decode(_ bytes: [UInt8], accelerometerRange: AccelerometerRange,
                              gyroscopeRange: GyroscopeRange) throws -> Measurement {
        guard bytes.count == burstLength else {
            throw SensorError(.invalidData, chip: "MPU-6050", "a measurement burst has 14 bytes (0x3B…0x48), not \(bytes.count)")
        }
        let words = stride(from: 0, to: burstLength, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])) }
        return Measurement(
            acceleration: Vector3(x: acceleration(raw: words[0], range: accelerometerRange),
                                  y: acceleration(raw: words[1], range: accelerometerRange),
                                  z: acceleration(raw: words[2], range: accelerometerRange)),
            temperature: try temperature(raw: words[3]),
            angularVelocity: Vector3(x: angularVelocity(raw: words[4], range: gyroscopeRange),
                                     y: angularVelocity(raw: words[5], range: gyroscopeRange),
                                     z: angularVelocity(raw: words[6], range: gyroscopeRange)))
    }

    /// The sample rate: gyroscope output rate / (1 + SMPLRT_DIV) (Register Map 4.2). The
    /// accelerometer itself outputs at 1 kHz; above that, its samples repeat.
    public static func sampleRate(divider: UInt8, filter: LowPassFilter) -> Frequency {
        filter.gyroscopeOutputRate / (1 + Double(divider))
    }

    /// The SMPLRT_DIV value whose sample rate is nearest to `rate`.
    ///
    /// - Throws: `SensorError(.invalidSetting)` when `rate` is outside what the filter allows:
    ///   8 kHz/256…8 kHz with ``LowPassFilter/bandwidth260Hz``, 1 kHz/256…1 kHz with the others.
    public static func sampleRateDivider(for rate: Frequency, filter: LowPassFilter) throws(SensorError) -> UInt8 {
        let output = filter.gyroscopeOutputRate
        let slowest = output.hertz / 256
        guard rate.hertz.isFinite, rate.hertz >= slowest * (1 - 1e-9), rate.hertz <= output.hertz * (1 + 1e-9) else {
            throw SensorError(.invalidSetting, chip: "MPU-6050",
                              "sample rate \(rate) is out of range: with the \(filter.accelerometerBandwidth) filter it must be \(output / 256)…\(output)")
        }
        let divisor = min(max((output.hertz / rate.hertz).rounded(), 1), 256)
        return UInt8(divisor - 1)
    }
}
