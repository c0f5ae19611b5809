import IoTSDK

extension PCA9685 {
    /// How a hobby servo maps angles to pulse widths: ``minimumPulse`` at the lower end of
    /// ``angles`` and ``maximumPulse`` at the upper end, linear in between. The pulse is then
    /// turned into counts at the frequency in use (``PCA9685/counts(pulseWidth:frequency:)``);
    /// servos expect about 50 Hz.
    ///
    /// The default, ``standard``, is 500…2500 µs over 0…180°. Many servos are specified for
    /// 1000…2000 µs; check the servo's data before driving it to its end stops.
    public struct ServoCalibration: Sendable, Hashable {
        /// The pulse at `angles.lowerBound`.
        public let minimumPulse: Duration
        /// The pulse at `angles.upperBound`. It may be shorter than ``minimumPulse`` to reverse
        /// the direction.
        public let maximumPulse: Duration
        /// The angles the servo accepts, in degrees.
        public let angles: ClosedRange<Double>

        /// 500…2500 µs over 0…180°.
        public static let standard = ServoCalibration(
            unchecked: .microseconds(500), .microseconds(2500), angles: 0...180)

        /// A calibration.
        ///
        /// - Throws: `SensorError(.invalidSetting)` when a pulse is not positive, the two pulses
        ///   are longer than 1 s or equal, or the angle range is empty or not finite.
        public init(minimumPulse: Duration = .microseconds(500), maximumPulse: Duration = .microseconds(2500),
                    angles: ClosedRange<Double> = 0...180) throws(SensorError) {
            let longest = Duration.seconds(1)
            guard minimumPulse > .zero, maximumPulse > .zero, minimumPulse <= longest, maximumPulse <= longest,
                  minimumPulse != maximumPulse else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "servo pulses \(minimumPulse) and \(maximumPulse) are invalid: both must be longer than 0 and at most 1 s, and different")
            }
            guard angles.lowerBound.isFinite, angles.upperBound.isFinite, angles.lowerBound < angles.upperBound else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "servo angle range \(angles) is invalid: it needs finite bounds, lower below upper")
            }
            self.init(unchecked: minimumPulse, maximumPulse, angles: angles)
        }

        private init(unchecked minimumPulse: Duration, _ maximumPulse: Duration, angles: ClosedRange<Double>) {
            self.minimumPulse = minimumPulse
            self.maximumPulse = maximumPulse
            self.angles = angles
        }

        /// The pulse width for an angle: linear between the two pulses.
        ///
        /// - Throws: `SensorError(.invalidSetting)` when `degrees` is outside ``angles`` or
        ///   not finite.
        public func pulseWidth(forDegrees degrees: Double) throws(SensorError) -> Duration {
            guard degrees.isFinite, angles.contains(degrees) else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "servo angle \(degrees)° is out of range: it must be \(angles.lowerBound)…\(angles.upperBound)°")
            }
            let fraction = (degrees - angles.lowerBound) / (angles.upperBound - angles.lowerBound)
            let low = PCA9685.seconds(of: minimumPulse)
            let high = PCA9685.seconds(of: maximumPulse)
            let nanoseconds = ((low + fraction * (high - low)) * 1e9).rounded()
            return .nanoseconds(Int64(nanoseconds))
        }
    }
}
