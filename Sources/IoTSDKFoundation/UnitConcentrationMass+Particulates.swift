import Foundation

extension UnitConcentrationMass {
    /// Micrograms per cubic metre (µg/m³), the unit of particulate-matter readings:
    /// 10⁻⁹ grams per litre, Foundation's base unit of mass concentration.
    public static var microgramsPerCubicMeter: UnitConcentrationMass {
        UnitConcentrationMass(symbol: "µg/m³", converter: UnitConverterLinear(coefficient: 1e-9))
    }
}
