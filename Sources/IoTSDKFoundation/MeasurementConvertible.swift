import Foundation
import IoTSDK

/// A quantity that converts to and from Foundation's `Measurement` with the matching `Dimension`.
///
/// ```swift
/// let pressure = Pressure.hectopascals(1013.25)
/// let inHg = pressure.measurement.converted(to: .inchesOfMercury)   // Measurement<UnitPressure>
/// let back = try Pressure(inHg)
/// ```
///
/// Bridged: `Temperature` (`UnitTemperature`), `Pressure` (`UnitPressure`), `Illuminance`
/// (`UnitIlluminance`), `Voltage` (`UnitElectricPotentialDifference`), `ElectricCurrent`
/// (`UnitElectricCurrent`), `ElectricResistance` (`UnitElectricResistance`), `Power`
/// (`UnitPower`), `Acceleration` (`UnitAcceleration`), `Distance` (`UnitLength`),
/// `Frequency` (`UnitFrequency`), `Concentration` (`UnitDispersion`, parts per million) and
/// `MassConcentration` (`UnitConcentrationMass`, with the added unit
/// `UnitConcentrationMass.microgramsPerCubicMeter`).
///
/// Not bridged, because Foundation has no matching dimension:
/// - `AngularVelocity`: there is no `UnitAngularVelocity`; it converts to an angle over a
///   duration and to a rotation frequency instead (see its extension in this module).
/// - `MagneticFluxDensity`: there is no unit of magnetic field; use its `microteslas` or
///   `gauss` accessors.
/// - `RelativeHumidity` and `Ratio`: Foundation has no unit for relative humidity or plain
///   fractions.
/// - `TemperatureDifference`: `UnitTemperature` converts absolute temperatures, adding the
///   scale offsets, so a difference of 5 °C would wrongly become 41 °F.
public protocol MeasurementConvertible: PhysicalQuantity {
    /// The Foundation dimension of this quantity, such as `UnitPressure`.
    associatedtype FoundationUnit: Dimension

    /// The Foundation unit in which a value equals `PhysicalQuantity/baseValue`.
    static var foundationBaseUnit: FoundationUnit { get }
}

extension MeasurementConvertible {
    /// Creates the quantity from a measurement in any unit of its dimension, and validates it.
    ///
    /// - Throws: `QuantityError` if the value is not finite or is physically impossible (a
    ///   temperature below absolute zero).
    public init(_ measurement: Measurement<FoundationUnit>) throws(QuantityError) {
        try self.init(validatingBaseValue: measurement.converted(to: Self.foundationBaseUnit).value)
    }

    /// The quantity as a measurement in ``foundationBaseUnit``; convert it with `converted(to:)`.
    public var measurement: Measurement<FoundationUnit> {
        Measurement(value: baseValue, unit: Self.foundationBaseUnit)
    }

    /// The quantity as a measurement in `unit`: `temperature.measurement(in: .fahrenheit)`.
    public func measurement(in unit: FoundationUnit) -> Measurement<FoundationUnit> {
        measurement.converted(to: unit)
    }
}
