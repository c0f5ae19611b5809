// MARK: - Codable

/// The keys of the encoded form `{"value": 294.65, "unit": "K"}`.
private enum QuantityCodingKeys: String, CodingKey {
    case value
    case unit
}

extension PhysicalQuantity {
    /// Encodes the quantity as its base value with the base unit's symbol, such as
    /// `{"value": 101325, "unit": "Pa"}`, so that stored readings say what they are.
    ///
    /// - Throws: `EncodingError` if the encoder rejects the value (a JSON encoder rejects NaN).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: QuantityCodingKeys.self)
        try container.encode(baseValue, forKey: .value)
        try container.encode(Self.baseUnitSymbol, forKey: .unit)
    }

    /// Decodes a quantity written by ``encode(to:)`` and validates it.
    ///
    /// - Throws: `DecodingError.dataCorrupted` if the unit is not ``baseUnitSymbol`` or if the value
    ///   is impossible (its underlying error is then the ``QuantityError``); the usual
    ///   `DecodingError`s for missing keys or wrong types.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: QuantityCodingKeys.self)
        let unit = try container.decode(String.self, forKey: .unit)
        guard unit == Self.baseUnitSymbol else {
            throw DecodingError.dataCorruptedError(
                forKey: .unit, in: container,
                debugDescription: "\(Self.self) is stored in '\(Self.baseUnitSymbol)', found '\(unit)': "
                    + "convert the value to \(Self.baseUnitSymbol) before storing it"
            )
        }
        let value = try container.decode(Double.self, forKey: .value)
        do {
            try self.init(validatingBaseValue: value)
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: container.codingPath + [QuantityCodingKeys.value],
                    debugDescription: error.message,
                    underlyingError: error
                )
            )
        }
    }
}
