import IoTSDK

// Pure conversions between physical settings and register values (datasheet 7.3.3 and 7.3.5),
// kept apart from I/O so that tests check them against the datasheet's own examples.

extension PCA9685 {
    // MARK: - Frequency and PRE_SCALE (7.3.5)

    /// PRE_SCALE for an output frequency: round(oscillator / (4096 × frequency)) − 1
    /// (datasheet 7.3.5, Equation 1; 200 Hz at 25 MHz gives 30 = 0x1E, Equation 2).
    ///
    /// The chip then runs at ``frequency(prescale:oscillator:)`` of the result, the nearest
    /// step it can make.
    ///
    /// - Throws: `SensorError(.invalidSetting)` when the result is outside 3…255, the range the
    ///   hardware accepts (about 24…1526 Hz with the 25 MHz internal oscillator), and for a
    ///   frequency or oscillator that is not a finite positive number.
    public static func prescale(for frequency: Frequency, oscillator: Frequency = internalOscillator) throws(SensorError) -> UInt8 {
        let hertz = frequency.hertz
        let clock = oscillator.hertz
        let lowest = self.frequency(prescale: 255, oscillator: oscillator)
        let highest = self.frequency(prescale: minimumPrescale, oscillator: oscillator)
        let range = "PRE_SCALE must be 3…255, which with a \(oscillator) oscillator gives \(lowest)…\(highest)"
        guard hertz.isFinite, hertz > 0, clock.isFinite, clock > 0 else {
            throw SensorError(.invalidSetting, chip: "PCA9685", "PWM frequency \(frequency) with a \(oscillator) oscillator is not possible: \(range)")
        }
        let exact = clock / (Double(countsPerPeriod) * hertz)
        let value = exact.rounded() - 1
        guard value >= Double(minimumPrescale), value <= 255 else {
            throw SensorError(.invalidSetting, chip: "PCA9685", "PWM frequency \(frequency) is out of range: \(range)")
        }
        return UInt8(value)
    }

    /// The output frequency a PRE_SCALE value gives: oscillator / (4096 × (prescale + 1)).
    public static func frequency(prescale: UInt8, oscillator: Frequency = internalOscillator) -> Frequency {
        .hertz(oscillator.hertz / (Double(countsPerPeriod) * (Double(prescale) + 1)))
    }

    // MARK: - Outputs to registers (7.3.3)

    /// The channel registers for `output` at the output `frequency` in use (which only
    /// ``Output/pulseWidth(_:)`` needs).
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a duty cycle outside 0…1, a delay outside
    ///   0…<1, counts outside 0…4095 or equal, or a pulse longer than the period.
    public static func registers(for output: Output, frequency: Frequency) throws(SensorError) -> ChannelRegisters {
        switch output {
        case .off: return .alwaysOff
        case .on: return .alwaysOn
        case .dutyCycle(let duty, let delay): return try registers(dutyCycle: duty, delay: delay)
        case .counts(let on, let off): return try ChannelRegisters(on: on, off: off)
        case .pulseWidth(let width): return try registers(pulseWidth: width, frequency: frequency)
        }
    }

    /// The registers for a duty cycle that starts `delay` into each period, computed as the
    /// datasheet's examples in 7.3.3 do: the delay is rounded to counts and reduced by one
    /// ("the counter starts at 0"), the on time is rounded to counts, and LEDn_OFF is
    /// LEDn_ON plus the on time, less 4096 when it falls into the next period.
    ///
    /// Example 1: delay 10 %, duty 20 % → LEDn_ON 409 (0x199), LEDn_OFF 1228 (0x4CC).
    /// Example 2: delay 90 %, duty 90 % → LEDn_ON 3685 (0xE65), LEDn_OFF 3275 (0xCCB).
    ///
    /// A duty cycle that rounds to 0 counts is full off; one that rounds to 4096 is full on.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a duty cycle outside 0…1 or a delay
    ///   outside 0…<1 (or either not finite).
    public static func registers(dutyCycle: Ratio, delay: Ratio = .zero) throws(SensorError) -> ChannelRegisters {
        let duty = dutyCycle.fraction
        let start = delay.fraction
        guard duty.isFinite, (0...1).contains(duty) else {
            throw SensorError(.invalidSetting, chip: "PCA9685", "duty cycle \(dutyCycle) is out of range: it must be 0…100 %")
        }
        guard start.isFinite, start >= 0, start < 1 else {
            throw SensorError(.invalidSetting, chip: "PCA9685", "PWM delay \(delay) is out of range: it must be 0 % up to (not including) 100 %")
        }
        let period = countsPerPeriod
        let high = Int((duty * Double(period)).rounded())
        if high == 0 { return .alwaysOff }
        if high >= period { return .alwaysOn }
        let delayCounts = min(Int((start * Double(period)).rounded()), period)
        let on = max(delayCounts - 1, 0)
        let off = (on + high) % period
        return ChannelRegisters(unchecked: UInt16(on), UInt16(off), fullOn: false, fullOff: false)
    }

    /// The registers for a pulse of `pulseWidth` at the start of each period of `frequency`:
    /// LEDn_ON 0 and LEDn_OFF the nearest count to width × frequency × 4096.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a negative pulse or one longer than the
    ///   period.
    public static func registers(pulseWidth: Duration, frequency: Frequency) throws(SensorError) -> ChannelRegisters {
        let counts = try counts(pulseWidth: pulseWidth, frequency: frequency)
        if counts == 0 { return .alwaysOff }
        if counts >= countsPerPeriod { return .alwaysOn }
        return ChannelRegisters(unchecked: 0, UInt16(counts), fullOn: false, fullOff: false)
    }

    /// The number of counts (0…4096) a pulse of `pulseWidth` lasts at `frequency`.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a negative pulse or one longer than the
    ///   period.
    public static func counts(pulseWidth: Duration, frequency: Frequency) throws(SensorError) -> Int {
        let seconds = seconds(of: pulseWidth)
        let hertz = frequency.hertz
        let period = 1 / hertz
        guard seconds >= 0, hertz.isFinite, hertz > 0, seconds <= period else {
            throw SensorError(.invalidSetting, chip: "PCA9685",
                              "a \(microseconds(seconds)) pulse does not fit a \(microseconds(period)) period at \(frequency): it must be 0…\(microseconds(period)) (servos need about 50 Hz)")
        }
        return Int((seconds * hertz * Double(countsPerPeriod)).rounded())
    }

    // MARK: - Helpers

    /// A duration in seconds, as a `Double`.
    static func seconds(of duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// Seconds shown in microseconds, such as `"1500.0 µs"`.
    static func microseconds(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "\(seconds) s" }
        return "\((seconds * 1e7).rounded() / 10) µs"
    }
}
