import IoTSDK

extension SHT3x {
    /// How repeatable (and how long) a measurement is (datasheet section 2, table "System timing
    /// specifications"; commands in Tables 9 and 10).
    public enum Repeatability: String, Sendable, Hashable, CaseIterable, Codable {
        /// Lowest noise; up to 15.5 ms per measurement.
        case high
        /// Up to 6.5 ms per measurement.
        case medium
        /// Up to 4.5 ms per measurement.
        case low
    }

    /// The measurement rates of periodic data-acquisition mode (datasheet section 4.5, Table 10).
    public enum MeasurementRate: String, Sendable, Hashable, CaseIterable, Codable {
        /// 0.5 measurements per second.
        case halfPerSecond
        /// 1 measurement per second.
        case onePerSecond
        /// 2 measurements per second.
        case twoPerSecond
        /// 4 measurements per second.
        case fourPerSecond
        /// 10 measurements per second (the datasheet warns of self-heating at this rate).
        case tenPerSecond

        /// The time between two measurements.
        public var period: Duration {
            switch self {
            case .halfPerSecond: .seconds(2)
            case .onePerSecond: .seconds(1)
            case .twoPerSecond: .milliseconds(500)
            case .fourPerSecond: .milliseconds(250)
            case .tenPerSecond: .milliseconds(100)
            }
        }
    }

    /// How the chip measures.
    public enum Mode: Sendable, Hashable {
        /// The chip measures when ``SHT3x/read()`` asks (single-shot mode, section 4.3) and sleeps
        /// in between: the lowest power.
        case singleShot
        /// The chip measures at `rate` by itself (periodic data-acquisition mode, section 4.5);
        /// ``SHT3x/read()`` fetches the newest result (Fetch Data, section 4.6).
        case periodic(MeasurementRate)
        /// Periodic mode at 4 Hz with accelerated response time (ART, section 4.7).
        case acceleratedResponse

        /// The time between two measurements, or `nil` in single-shot mode.
        public var period: Duration? {
            switch self {
            case .singleShot: nil
            case .periodic(let rate): rate.period
            case .acceleratedResponse: .milliseconds(250)
            }
        }
    }

    /// The settings of an ``SHT3x``.
    public struct Configuration: Sendable, Hashable {
        /// The repeatability of every measurement.
        public var repeatability: Repeatability
        /// Single-shot, periodic or ART.
        public var mode: Mode

        /// Single-shot, high-repeatability measurements unless told otherwise.
        public init(repeatability: Repeatability = .high, mode: Mode = .singleShot) {
            self.repeatability = repeatability
            self.mode = mode
        }
    }
}
