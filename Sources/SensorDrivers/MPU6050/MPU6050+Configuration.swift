import IoTSDK

extension MPU6050 {
    /// Accelerometer full-scale range, ACCEL_CONFIG AFS_SEL (Register Map 4.5, 4.17).
    public enum AccelerometerRange: Int, Sendable, Hashable, CaseIterable {
        /// ±2 g, ±4 g, ±8 g, ±16 g (AFS_SEL 0…3).
        case g2 = 0, g4, g8, g16

        /// LSB per g (Register Map 4.17): 16384, 8192, 4096, 2048.
        public var sensitivity: Double {
            switch self {
            case .g2: 16384
            case .g4: 8192
            case .g8: 4096
            case .g16: 2048
            }
        }

        /// The largest magnitude measured: 2, 4, 8 or 16 g.
        public var fullScale: Acceleration { .gravities(Double(2 << rawValue)) }

        /// The ACCEL_CONFIG byte (AFS_SEL in bits 4:3, self-test off).
        var register: UInt8 { UInt8(rawValue) << 3 }
    }

    /// Gyroscope full-scale range, GYRO_CONFIG FS_SEL (Register Map 4.4, 4.19).
    public enum GyroscopeRange: Int, Sendable, Hashable, CaseIterable {
        /// ±250, ±500, ±1000, ±2000 °/s (FS_SEL 0…3).
        case degreesPerSecond250 = 0, degreesPerSecond500, degreesPerSecond1000, degreesPerSecond2000

        /// LSB per °/s (Register Map 4.19): 131, 65.5, 32.8, 16.4.
        public var sensitivity: Double {
            switch self {
            case .degreesPerSecond250: 131
            case .degreesPerSecond500: 65.5
            case .degreesPerSecond1000: 32.8
            case .degreesPerSecond2000: 16.4
            }
        }

        /// The largest magnitude measured: 250, 500, 1000 or 2000 °/s.
        public var fullScale: AngularVelocity { .degreesPerSecond(Double(250 << rawValue)) }

        /// The GYRO_CONFIG byte (FS_SEL in bits 4:3, self-test off).
        var register: UInt8 { UInt8(rawValue) << 3 }
    }

    /// The digital low-pass filter, CONFIG DLPF_CFG (Register Map 4.3). Named by the
    /// accelerometer's bandwidth; DLPF_CFG 7 is reserved and not offered.
    public enum LowPassFilter: Int, Sendable, Hashable, CaseIterable {
        /// DLPF_CFG 0…6.
        case bandwidth260Hz = 0, bandwidth184Hz, bandwidth94Hz, bandwidth44Hz, bandwidth21Hz, bandwidth10Hz, bandwidth5Hz

        /// Accelerometer bandwidth (4.3 table): 260, 184, 94, 44, 21, 10, 5 Hz.
        public var accelerometerBandwidth: Frequency {
            .hertz([260, 184, 94, 44, 21, 10, 5][rawValue])
        }

        /// Gyroscope bandwidth (4.3 table): 256, 188, 98, 42, 20, 10, 5 Hz.
        public var gyroscopeBandwidth: Frequency {
            .hertz([256, 188, 98, 42, 20, 10, 5][rawValue])
        }

        /// The gyroscope output rate that SMPLRT_DIV divides (4.2, 4.3): 8 kHz with the filter
        /// off (DLPF_CFG 0), 1 kHz otherwise.
        public var gyroscopeOutputRate: Frequency { self == .bandwidth260Hz ? .kilohertz(8) : .kilohertz(1) }

        /// The CONFIG byte (EXT_SYNC_SET 0, DLPF_CFG).
        var register: UInt8 { UInt8(rawValue) }
    }

    /// The clock source, PWR_MGMT_1 CLKSEL (Register Map 4.28). The register map recommends a
    /// gyroscope's PLL over the internal oscillator for stability.
    public enum ClockSource: Int, Sendable, Hashable, CaseIterable {
        /// CLKSEL 0…5: internal 8 MHz oscillator; PLL with the X, Y or Z gyroscope; PLL with an
        /// external 32.768 kHz or 19.2 MHz reference on CLKIN.
        case internal8MHz = 0, pllXGyroscope, pllYGyroscope, pllZGyroscope, pllExternal32kHz, pllExternal19MHz
    }

    /// Which WHO_AM_I answers ``MPU6050/init(device:configuration:)`` accepts.
    ///
    /// Many GY-521 boards carry clones that answer 0x70 (the MPU-6500's value), 0x72 or 0x98
    /// instead of 0x68. Their accelerometer and gyroscope registers behave like the MPU-6050's,
    /// but their temperature sensor may use another scale, so accepting them is a choice the
    /// app makes explicitly, and ``MPU6050/identity`` tells which part was found.
    public enum IdentityCheck: Sendable, Hashable {
        /// Only 0x68, the MPU-6050's value.
        case genuineOnly
        /// 0x68, and the clone answers 0x70, 0x72 and 0x98.
        case allowingKnownClones
    }

    /// What WHO_AM_I said.
    public enum Identity: Sendable, Hashable {
        /// WHO_AM_I = 0x68.
        case mpu6050
        /// A known clone answer (0x70, 0x72, 0x98), accepted by ``IdentityCheck/allowingKnownClones``.
        case clone(whoAmI: UInt8)
    }

    /// Settings applied by ``MPU6050/init(device:configuration:)`` and ``MPU6050/configure(_:)``.
    public struct Configuration: Sendable, Hashable {
        /// ACCEL_CONFIG AFS_SEL.
        public var accelerometerRange: AccelerometerRange
        /// GYRO_CONFIG FS_SEL.
        public var gyroscopeRange: GyroscopeRange
        /// CONFIG DLPF_CFG.
        public var lowPassFilter: LowPassFilter
        /// SMPLRT_DIV: sample rate = gyroscope output rate / (1 + divider) (Register Map 4.2);
        /// see ``MPU6050/sampleRate(divider:filter:)`` and ``MPU6050/sampleRateDivider(for:filter:)``.
        public var sampleRateDivider: UInt8
        /// PWR_MGMT_1 CLKSEL.
        public var clockSource: ClockSource
        /// Which WHO_AM_I answers are accepted; checked at start only.
        public var identityCheck: IdentityCheck
        /// Whether start-up begins with DEVICE_RESET (and its 100 ms wait), so that no setting
        /// left by an earlier program (FIFO, interrupts, I2C master, standby axes) remains.
        public var resetsOnStart: Bool

        /// The defaults: ±2 g, ±250 °/s (the chip's power-on ranges), 44 Hz filter, 100 Hz
        /// sample rate (divider 9), PLL with the X gyroscope, genuine parts only, reset at start.
        public init(accelerometerRange: AccelerometerRange = .g2, gyroscopeRange: GyroscopeRange = .degreesPerSecond250,
                    lowPassFilter: LowPassFilter = .bandwidth44Hz, sampleRateDivider: UInt8 = 9,
                    clockSource: ClockSource = .pllXGyroscope, identityCheck: IdentityCheck = .genuineOnly,
                    resetsOnStart: Bool = true) {
            self.accelerometerRange = accelerometerRange
            self.gyroscopeRange = gyroscopeRange
            self.lowPassFilter = lowPassFilter
            self.sampleRateDivider = sampleRateDivider
            self.clockSource = clockSource
            self.identityCheck = identityCheck
            self.resetsOnStart = resetsOnStart
        }

        /// SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG: the four consecutive registers
        /// 0x19…0x1C, written in one burst.
        var configurationRegisters: [UInt8] {
            [sampleRateDivider, lowPassFilter.register, gyroscopeRange.register, accelerometerRange.register]
        }

        /// The sample rate these settings give.
        public var sampleRate: Frequency { MPU6050.sampleRate(divider: sampleRateDivider, filter: lowPassFilter) }
    }
}
