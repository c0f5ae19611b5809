/// How long one conversion takes, from BME280 datasheet appendix B, section 9.1:
///
///     t_measure,typ = 1    + 2   × T_os + [2   × P_os + 0.5  ] + [2   × H_os + 0.5  ]  ms
///     t_measure,max = 1.25 + 2.3 × T_os + [2.3 × P_os + 0.575] + [2.3 × H_os + 0.575]  ms
///
/// where X_os is the oversampling factor and a bracket is left out when its measurement is
/// skipped. The BMP280 has no humidity term; its datasheet (section 3.8.1, Table 13) lists the
/// same maxima for its presets (6.4, 8.7, 13.3, 22.5 and 43.2 ms).
public enum BME280MeasurementTime {
    /// The typical conversion time, in microseconds.
    public static func typicalMicroseconds(
        temperature: BME280Oversampling, pressure: BME280Oversampling, humidity: BME280Oversampling = .skipped
    ) -> Int {
        microseconds(base: 1_000, perSample: 2_000, extra: 500, temperature, pressure, humidity)
    }

    /// The maximum conversion time, in microseconds: what a driver waits in forced mode.
    public static func maximumMicroseconds(
        temperature: BME280Oversampling, pressure: BME280Oversampling, humidity: BME280Oversampling = .skipped
    ) -> Int {
        microseconds(base: 1_250, perSample: 2_300, extra: 575, temperature, pressure, humidity)
    }

    /// The maximum conversion time.
    public static func maximum(
        temperature: BME280Oversampling, pressure: BME280Oversampling, humidity: BME280Oversampling = .skipped
    ) -> Duration {
        .microseconds(maximumMicroseconds(temperature: temperature, pressure: pressure, humidity: humidity))
    }

    private static func microseconds(
        base: Int, perSample: Int, extra: Int,
        _ temperature: BME280Oversampling, _ pressure: BME280Oversampling, _ humidity: BME280Oversampling
    ) -> Int {
        var total = base + perSample * temperature.factor
        for other in [pressure, humidity] where other != .skipped {
            total += perSample * other.factor + extra
        }
        return total
    }
}
