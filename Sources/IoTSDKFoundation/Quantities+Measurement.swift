import Foundation
import IoTSDK

// The quantities whose base unit Foundation has; see `MeasurementConvertible` for the list of
// quantities that are not bridged and why.

extension Temperature: MeasurementConvertible {
    /// Kelvin.
    public static var foundationBaseUnit: UnitTemperature { .kelvin }
}

extension Pressure: MeasurementConvertible {
    /// Pascals (`newtonsPerMetersSquared`).
    public static var foundationBaseUnit: UnitPressure { .newtonsPerMetersSquared }
}

extension Illuminance: MeasurementConvertible {
    /// Lux.
    public static var foundationBaseUnit: UnitIlluminance { .lux }
}

extension Voltage: MeasurementConvertible {
    /// Volts.
    public static var foundationBaseUnit: UnitElectricPotentialDifference { .volts }
}

extension ElectricCurrent: MeasurementConvertible {
    /// Amperes.
    public static var foundationBaseUnit: UnitElectricCurrent { .amperes }
}

extension ElectricResistance: MeasurementConvertible {
    /// Ohms.
    public static var foundationBaseUnit: UnitElectricResistance { .ohms }
}

extension Power: MeasurementConvertible {
    /// Watts.
    public static var foundationBaseUnit: UnitPower { .watts }
}

extension Acceleration: MeasurementConvertible {
    /// Metres per second squared.
    ///
    /// Foundation's `UnitAcceleration.gravity` is 9.81 m/s², not standard gravity; for multiples
    /// of g = 9.80665 m/s², use `Acceleration/gravities`.
    public static var foundationBaseUnit: UnitAcceleration { .metersPerSecondSquared }
}

extension Distance: MeasurementConvertible {
    /// Metres.
    public static var foundationBaseUnit: UnitLength { .meters }
}

extension Frequency: MeasurementConvertible {
    /// Hertz.
    public static var foundationBaseUnit: UnitFrequency { .hertz }
}

extension Concentration: MeasurementConvertible {
    /// Parts per million, the base unit of `UnitDispersion`.
    public static var foundationBaseUnit: UnitDispersion { .partsPerMillion }
}

extension MassConcentration: MeasurementConvertible {
    /// Micrograms per cubic metre (added to `UnitConcentrationMass` by this module).
    public static var foundationBaseUnit: UnitConcentrationMass { .microgramsPerCubicMeter }
}
