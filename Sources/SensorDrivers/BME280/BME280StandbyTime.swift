/// The BME280's standby time between conversions in normal mode (config t_sb[2:0]).
///
/// BME280 datasheet section 5.4.6, Table 27. Codes 110 and 111 mean 10 ms and 20 ms on the
/// BME280 but 2000 ms and 4000 ms on the BMP280 (BME280 datasheet section 5.2, Table 17), which
/// is why each chip has its own type: see ``BMP280StandbyTime``.
public enum BME280StandbyTime: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case ms0_5 = 0b000
    case ms62_5 = 0b001
    case ms125 = 0b010
    case ms250 = 0b011
    case ms500 = 0b100
    case ms1000 = 0b101
    case ms10 = 0b110
    case ms20 = 0b111

    /// The standby time in microseconds.
    public var microseconds: Int {
        switch self {
        case .ms0_5: 500
        case .ms62_5: 62_500
        case .ms125: 125_000
        case .ms250: 250_000
        case .ms500: 500_000
        case .ms1000: 1_000_000
        case .ms10: 10_000
        case .ms20: 20_000
        }
    }

    /// The standby time.
    public var duration: Duration { .microseconds(microseconds) }

    /// The standby time for a number of milliseconds, as a configuration file or a flag gives it.
    ///
    /// - Parameter milliseconds: 0.5, 10, 20, 62.5, 125, 250, 500 or 1000.
    /// - Throws: `SensorError(.invalidSetting)` for any other value, naming the allowed ones (and
    ///   pointing BMP280 users at ``BMP280StandbyTime`` for 2000 and 4000 ms).
    public init(milliseconds: Double) throws(SensorError) {
        guard let match = Self.allCases.first(where: { matches($0.microseconds, milliseconds) }) else {
            throw SensorError(.invalidSetting, chip: "BME280",
                              "standby time \(milliseconds) ms is not supported: use 0.5, 10, 20, 62.5, 125, 250, 500 or 1000 ms (2000 and 4000 ms exist only on the BMP280)")
        }
        self = match
    }

    /// "62.5 ms".
    public var description: String { standbyDescription(microseconds) }
}

/// The BMP280's standby time between conversions in normal mode (config t_sb[2:0]).
///
/// BMP280 datasheet sections 3.6.3 and 4.3.5. Codes 110 and 111 mean 2000 ms and
/// 4000 ms here but 10 ms and 20 ms on the BME280 (see ``BME280StandbyTime``).
public enum BMP280StandbyTime: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case ms0_5 = 0b000
    case ms62_5 = 0b001
    case ms125 = 0b010
    case ms250 = 0b011
    case ms500 = 0b100
    case ms1000 = 0b101
    case ms2000 = 0b110
    case ms4000 = 0b111

    /// The standby time in microseconds.
    public var microseconds: Int {
        switch self {
        case .ms0_5: 500
        case .ms62_5: 62_500
        case .ms125: 125_000
        case .ms250: 250_000
        case .ms500: 500_000
        case .ms1000: 1_000_000
        case .ms2000: 2_000_000
        case .ms4000: 4_000_000
        }
    }

    /// The standby time.
    public var duration: Duration { .microseconds(microseconds) }

    /// The standby time for a number of milliseconds, as a configuration file or a flag gives it.
    ///
    /// - Parameter milliseconds: 0.5, 62.5, 125, 250, 500, 1000, 2000 or 4000.
    /// - Throws: `SensorError(.invalidSetting)` for any other value, naming the allowed ones (and
    ///   pointing BME280 users at ``BME280StandbyTime`` for 10 and 20 ms).
    public init(milliseconds: Double) throws(SensorError) {
        guard let match = Self.allCases.first(where: { matches($0.microseconds, milliseconds) }) else {
            throw SensorError(.invalidSetting, chip: "BMP280",
                              "standby time \(milliseconds) ms is not supported: use 0.5, 62.5, 125, 250, 500, 1000, 2000 or 4000 ms (10 and 20 ms exist only on the BME280)")
        }
        self = match
    }

    /// "4000 ms".
    public var description: String { standbyDescription(microseconds) }
}

/// Whether a standby time given in milliseconds is this one.
private func matches(_ microseconds: Int, _ milliseconds: Double) -> Bool {
    Double(microseconds) == milliseconds * 1000
}

/// "0.5 ms", "62.5 ms", "1000 ms".
private func standbyDescription(_ microseconds: Int) -> String {
    microseconds % 1000 == 0 ? "\(microseconds / 1000) ms" : "\(Double(microseconds) / 1000) ms"
}
