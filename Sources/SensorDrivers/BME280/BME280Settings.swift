/// Oversampling of one quantity (osrs_t, osrs_p, osrs_h), shared by the BME280 and the BMP280.
///
/// BME280 datasheet section 5.4.3 (Table 20, osrs_h) and 5.4.5 (Tables 23 and 24, osrs_p and
/// osrs_t); BMP280 datasheet section 4.3.4. More oversampling lowers noise and lengthens the
/// conversion (see ``BME280MeasurementTime``).
public enum BME280Oversampling: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// The measurement is skipped; its data register keeps the placeholder 0x80000 (0x8000 for
    /// humidity) and the reading leaves the quantity out.
    case skipped = 0b000
    case x1 = 0b001
    case x2 = 0b010
    case x4 = 0b011
    case x8 = 0b100
    case x16 = 0b101

    /// The number of samples averaged: 0 when skipped.
    public var factor: Int {
        switch self {
        case .skipped: 0
        case .x1: 1
        case .x2: 2
        case .x4: 4
        case .x8: 8
        case .x16: 16
        }
    }

    /// The oversampling for a number of samples, as a configuration file or a flag gives it.
    ///
    /// - Parameter factor: 0 (skip), 1, 2, 4, 8 or 16.
    /// - Throws: `SensorError(.invalidSetting)` for any other number, naming the allowed ones.
    public init(factor: Int) throws(SensorError) {
        guard let match = Self.allCases.first(where: { $0.factor == factor }) else {
            throw SensorError(.invalidSetting, chip: "BME280/BMP280",
                              "oversampling \(factor) is not supported: use 0 (skip), 1, 2, 4, 8 or 16")
        }
        self = match
    }

    /// "skipped" or "x4".
    public var description: String { self == .skipped ? "skipped" : "x\(factor)" }
}

/// The IIR filter coefficient (config filter[2:0]) for temperature and pressure; humidity is not
/// filtered.
///
/// BME280 datasheet section 3.4.4 and Table 28; BMP280 datasheet section 3.3.3. Writing the
/// filter resets it; the next conversion initialises the filter memory.
public enum BME280Filter: UInt8, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case off = 0b000
    case coefficient2 = 0b001
    case coefficient4 = 0b010
    case coefficient8 = 0b011
    case coefficient16 = 0b100

    /// The filter coefficient: 0 when the filter is off.
    public var coefficient: Int {
        switch self {
        case .off: 0
        case .coefficient2: 2
        case .coefficient4: 4
        case .coefficient8: 8
        case .coefficient16: 16
        }
    }

    /// The filter for a coefficient, as a configuration file or a flag gives it.
    ///
    /// - Parameter coefficient: 0 (off), 2, 4, 8 or 16.
    /// - Throws: `SensorError(.invalidSetting)` for any other number, naming the allowed ones.
    public init(coefficient: Int) throws(SensorError) {
        guard let match = Self.allCases.first(where: { $0.coefficient == coefficient }) else {
            throw SensorError(.invalidSetting, chip: "BME280/BMP280",
                              "IIR filter coefficient \(coefficient) is not supported: use 0 (off), 2, 4, 8 or 16")
        }
        self = match
    }

    /// "off" or "16".
    public var description: String { self == .off ? "off" : "\(coefficient)" }
}
