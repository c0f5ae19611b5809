import Foundation
import IoTSDK
import Testing

/// The tolerance for conversions that are exact in decimal but not in binary floating point.
private let exact = 1e-9

@Suite("Temperature")
struct TemperatureTests {
    @Test func freezingPointOfWaterInEveryScale() throws {
        let freezing = try Temperature.celsius(0)
        #expect(abs(freezing.kelvin - 273.15) < exact)
        #expect(abs(freezing.fahrenheit - 32) < exact)
        #expect(abs(try Temperature.fahrenheit(32).celsius) < exact)
        #expect(abs(try Temperature.kelvin(273.15).fahrenheit - 32) < exact)
    }

    @Test func minusFortyIsTheSameInCelsiusAndFahrenheit() throws {
        #expect(abs(try Temperature.celsius(-40).fahrenheit - -40) < exact)
        #expect(abs(try Temperature.fahrenheit(-40).celsius - -40) < exact)
    }

    @Test func boilingPointOfWater() throws {
        #expect(abs(try Temperature.celsius(100).fahrenheit - 212) < exact)
        #expect(abs(try Temperature.fahrenheit(212).kelvin - 373.15) < exact)
    }

    @Test func absoluteZeroIsAllowedAndBelowItThrows() throws {
        #expect(try Temperature.kelvin(0) == Temperature.absoluteZero)
        #expect(abs(Temperature.absoluteZero.celsius - -273.15) < exact)
        #expect(abs(Temperature.absoluteZero.fahrenheit - -459.67) < exact)
        let error = #expect(throws: QuantityError.self) { try Temperature.celsius(-300) }
        #expect(error?.code == .outOfRange)
        #expect(error?.quantity == "Temperature")
        #expect(abs((error?.baseValue ?? 0) - -26.85) < exact)
        #expect(error?.message.contains("-300.00 °C (-26.85 K) is below the physical minimum of 0.00 K") == true)
        #expect(error?.message.contains("calibration data") == true)
        #expect(throws: QuantityError.self) { try Temperature.fahrenheit(-460) }
        #expect(throws: QuantityError.self) { try Temperature.kelvin(-0.001) }
    }

    @Test func nonFiniteValuesThrow() {
        let error = #expect(throws: QuantityError.self) { try Temperature.celsius(.nan) }
        #expect(error?.code == .notFinite)
        #expect(error?.message.contains("not a finite number") == true)
        #expect(throws: QuantityError.self) { try Temperature.kelvin(.infinity) }
    }

    @Test func descriptionIsInCelsiusWithTwoDigits() throws {
        #expect(try Temperature.celsius(21.5).description == "21.50 °C")
        #expect(try Temperature.kelvin(0).description == "-273.15 °C")
        #expect(try Temperature.celsius(-0.001).description == "0.00 °C")
        #expect(try Temperature.celsius(-10.125).description == "-10.13 °C")
        #expect(try Temperature.celsius(21.5).formatted(in: .fahrenheit, fractionDigits: 1) == "70.7 °F")
    }

    @Test func differencesOfTemperaturesAreTemperatureDifferences() throws {
        let difference = try Temperature.celsius(25) - Temperature.celsius(20)
        #expect(abs(difference.kelvin - 5) < exact)
        #expect(abs(difference.fahrenheit - 9) < exact)
        #expect(difference.description == "5.00 K")
        #expect(abs(TemperatureDifference.fahrenheit(18).celsius - 10) < exact)
        let raised = try Temperature.celsius(20) + .kelvin(1.5)
        #expect(abs(raised.celsius - 21.5) < exact)
        let lowered: Temperature = try Temperature.celsius(20) - .celsius(30)
        #expect(abs(lowered.celsius - -10) < exact)
    }

    @Test func arithmeticBelowAbsoluteZeroThrows() throws {
        let cold = try Temperature.kelvin(1)
        let error = #expect(throws: QuantityError.self) { try cold - TemperatureDifference.kelvin(5) }
        #expect(error?.code == .outOfRange)
        #expect(throws: QuantityError.self) { try cold + .kelvin(-2) }
    }

    @Test func comparisonToleranceAndRatio() throws {
        let a = try Temperature.celsius(20)
        let b = try Temperature.celsius(20.004)
        #expect(a < b)
        #expect(a.isApproximatelyEqual(to: b, tolerance: .kelvin(0.01)))
        #expect(!a.isApproximatelyEqual(to: b, tolerance: .kelvin(0.001)))
        #expect(abs(try Temperature.kelvin(600) / Temperature.kelvin(300) - 2) < exact)
    }

    @Test func validatingUnitInitialiser() throws {
        #expect(abs(try Temperature(validating: 21.5, in: .celsius).kelvin - 294.65) < exact)
        #expect(throws: QuantityError.self) { try Temperature(validating: -500, in: .fahrenheit) }
        #expect(throws: QuantityError.self) { try Temperature(baseValue: -1).validated() }
    }
}

@Suite("Pressure")
struct PressureTests {
    @Test func standardAtmosphereInEveryUnit() {
        let atmosphere = Pressure.pascals(101_325)
        #expect(atmosphere == .standardAtmosphere)
        #expect(abs(atmosphere.hectopascals - 1013.25) < exact)
        #expect(abs(atmosphere.millibars - 1013.25) < exact)
        #expect(abs(atmosphere.kilopascals - 101.325) < exact)
        #expect(abs(atmosphere.bars - 1.01325) < exact)
        #expect(abs(atmosphere.inchesOfMercury - 29.921) < 0.0005)
        #expect(abs(atmosphere.millimetersOfMercury - 760) < 0.001)
        #expect(abs(atmosphere.poundsPerSquareInch - 14.696) < 0.0005)
    }

    @Test func constructorsAgree() {
        #expect(abs(Pressure.hectopascals(1013.25).pascals - 101_325) < exact)
        #expect(abs(Pressure.poundsPerSquareInch(1).pascals - 6_894.757293168) < 1e-6)
        #expect(abs(Pressure.inchesOfMercury(29.921).hectopascals - 1013.25) < 0.01)
        #expect(abs(Pressure.millimetersOfMercury(760).hectopascals - 1013.25) < 0.001)
        #expect(abs(Pressure.bars(1).kilopascals - 100) < exact)
        #expect(abs(Pressure.millibars(1).pascals - 100) < exact)
    }

    @Test func descriptionAndFormatting() {
        #expect(Pressure.pascals(101_325).description == "1013.25 hPa")
        #expect(Pressure.standardAtmosphere.formatted(in: .inchesOfMercury, fractionDigits: 3) == "29.921 inHg")
        #expect(Pressure.standardAtmosphere.formatted(in: .poundsPerSquareInch, fractionDigits: 3) == "14.696 psi")
    }

    @Test func customUnit() {
        let atmospheres = QuantityUnit<Pressure>(symbol: "atm", coefficient: 101_325)
        #expect(Pressure(2, in: atmospheres) == .pascals(202_650))
        #expect(Pressure.bars(1.01325).value(in: atmospheres) == 1)
        #expect(atmospheres.description == "atm")
    }
}

@Suite("Motion, distance and field")
struct MotionTests {
    @Test func standardGravity() {
        #expect(Acceleration.gravities(1).metersPerSecondSquared == 9.806_65)
        #expect(Acceleration.gravities(1) == .standardGravity)
        #expect(abs(Acceleration.metersPerSecondSquared(19.6133).gravities - 2) < exact)
        #expect(Acceleration.standardGravity.description == "9.807 m/s²")
        #expect(Acceleration.gravities(1).formatted(in: .gravities) == "1.000 g")
    }

    @Test func degreesAndRadiansPerSecond() {
        #expect(abs(AngularVelocity.degreesPerSecond(180).radiansPerSecond - Double.pi) < exact)
        #expect(abs(AngularVelocity.radiansPerSecond(Double.pi / 2).degreesPerSecond - 90) < exact)
        #expect(abs(AngularVelocity.revolutionsPerMinute(60).radiansPerSecond - 2 * Double.pi) < exact)
        #expect(AngularVelocity.radiansPerSecond(Double.pi).description == "180.00 °/s")
    }

    @Test func inchesFeetAndMetricLengths() {
        #expect(abs(Distance.inches(1).millimeters - 25.4) < exact)
        #expect(abs(Distance.feet(1).inches - 12) < exact)
        #expect(abs(Distance.feet(1).meters - 0.3048) < exact)
        #expect(abs(Distance.centimeters(250).meters - 2.5) < exact)
        #expect(abs(Distance.kilometers(1.5).meters - 1_500) < exact)
    }

    @Test func distanceDescriptionPicksAPrefix() {
        #expect(Distance.inches(10).description == "254.000 mm")
        #expect(Distance.meters(1.523).description == "1.523 m")
        #expect(Distance.meters(12_000).description == "12.000 km")
        #expect(Distance.meters(0).description == "0.000 m")
    }

    @Test func gaussAndTesla() {
        #expect(abs(MagneticFluxDensity.gauss(1).microteslas - 100) < exact)
        #expect(abs(MagneticFluxDensity.microteslas(50).milligauss - 500) < exact)
        #expect(abs(MagneticFluxDensity.teslas(1).milliteslas - 1_000) < exact)
        #expect(abs(MagneticFluxDensity.nanoteslas(1_000).microteslas - 1) < exact)
        #expect(MagneticFluxDensity.microteslas(48.2).description == "48.20 µT")
    }

    @Test func frequency() {
        #expect(Frequency.kilohertz(400).hertz == 400_000)
        #expect(Frequency.megahertz(1).kilohertz == 1_000)
        #expect(Frequency.hertz(400_000).description == "400.000 kHz")
        #expect(Frequency.hertz(50).description == "50.000 Hz")
    }
}

@Suite("Electrical quantities")
struct ElectricalTests {
    @Test func prefixedUnits() {
        #expect(abs(Voltage.millivolts(3_300).volts - 3.3) < exact)
        #expect(abs(Voltage.microvolts(1_500).millivolts - 1.5) < exact)
        #expect(abs(ElectricCurrent.milliamperes(12.5).amperes - 0.0125) < exact)
        #expect(abs(ElectricCurrent.microamperes(250).milliamperes - 0.25) < exact)
        #expect(abs(ElectricResistance.kiloohms(4.7).ohms - 4_700) < exact)
        #expect(abs(ElectricResistance.megaohms(1).kiloohms - 1_000) < exact)
        #expect(abs(Power.milliwatts(330).watts - 0.33) < exact)
        #expect(abs(Power.kilowatts(1.2).watts - 1_200) < exact)
        #expect(abs(Power.microwatts(5).milliwatts - 0.005) < exact)
    }

    @Test func descriptionsChooseTheLargestFittingPrefix() {
        #expect(Voltage.volts(3.3).description == "3.300 V")
        #expect(Voltage.volts(0.0125).description == "12.500 mV")
        #expect(ElectricCurrent.amperes(0.0125).description == "12.500 mA")
        #expect(ElectricCurrent.amperes(-0.0125).description == "-12.500 mA")
        #expect(ElectricCurrent.amperes(0).description == "0.000 A")
        #expect(ElectricCurrent.amperes(0.999_999_9).description == "1.000 A")
        #expect(ElectricCurrent.amperes(1e-12).description == "0.000 A")
        #expect(ElectricCurrent.amperes(.nan).description == "nan A")
        #expect(ElectricResistance.ohms(4_700).description == "4.700 kΩ")
        #expect(Power.watts(1.25).description == "1.250 W")
        #expect(Power.watts(2_500).description == "2.500 kW")
    }

    @Test func ohmsLawAndPower() {
        let current = ElectricCurrent.milliamperes(20)
        let resistance = ElectricResistance.ohms(150)
        #expect(abs((current * resistance).volts - 3) < exact)
        #expect(abs((Voltage.volts(3) / resistance).milliamperes - 20) < exact)
        #expect(abs((Voltage.volts(3) / current).ohms - 150) < exact)
        let power = Voltage.volts(5) * ElectricCurrent.amperes(0.5)
        #expect(abs(power.watts - 2.5) < exact)
        #expect(abs((ElectricCurrent.amperes(0.5) * Voltage.volts(5)).watts - 2.5) < exact)
        #expect(abs((power / Voltage.volts(5)).amperes - 0.5) < exact)
        #expect(abs((power / ElectricCurrent.amperes(0.5)).volts - 5) < exact)
    }
}

@Suite("Environmental quantities")
struct EnvironmentalTests {
    @Test func relativeHumidityDescriptionAndFraction() {
        #expect(RelativeHumidity.percent(45).description == "45.0 %RH")
        #expect(RelativeHumidity.percent(45).fraction == 0.45)
        #expect(RelativeHumidity.percent(45).percent == 45)
    }

    @Test func relativeHumidityOutsideTheRangeIsKeptUntilClamped() {
        let overshoot = RelativeHumidity.percent(103.2)
        #expect(overshoot.percent == 103.2)
        #expect(!overshoot.isWithinPhysicalRange)
        #expect(overshoot.clamped() == .percent(100))
        #expect(RelativeHumidity.percent(-1.5).clamped() == .percent(0))
        #expect(RelativeHumidity.percent(55).clamped() == .percent(55))
        #expect(RelativeHumidity.percent(.nan).clamped().percent.isNaN)
        #expect(!RelativeHumidity.percent(.nan).isWithinPhysicalRange)
        #expect(RelativeHumidity.percent(0).isWithinPhysicalRange && RelativeHumidity.percent(100).isWithinPhysicalRange)
        // A tolerance or hysteresis is a (possibly negative) relative humidity too.
        #expect(RelativeHumidity.percent(40) - .percent(45) == .percent(-5))
    }

    @Test func illuminanceAndConcentrations() {
        #expect(Illuminance.lux(350).description == "350.0 lx")
        #expect(Illuminance.lux(350).lux == 350)
        #expect(Concentration.partsPerMillion(415).description == "415.0 ppm")
        #expect(Concentration.partsPerBillion(250).partsPerMillion == 0.25)
        #expect(Concentration.percentByVolume(20.9).partsPerMillion == 209_000)
        #expect(abs(Concentration.partsPerMillion(4_000).percentByVolume - 0.4) < exact)
        #expect(MassConcentration.microgramsPerCubicMeter(12.5).description == "12.5 µg/m³")
        #expect(MassConcentration.milligramsPerCubicMeter(0.035).microgramsPerCubicMeter == 35)
        #expect(MassConcentration.microgramsPerCubicMeter(35).milligramsPerCubicMeter == 0.035)
    }

    @Test func ratio() {
        #expect(Ratio.percent(42).fraction == 0.42)
        #expect(Ratio.fraction(0.42).percent == 42)
        #expect(Ratio.fraction(0.42).description == "42.0 %")
        #expect(Ratio.fraction(0.42).formatted(in: .fraction) == "0.4")
        #expect(Ratio.fraction(0.42).formatted(in: .fraction, fractionDigits: 2) == "0.42")
    }
}

@Suite("Linear arithmetic and validation")
struct LinearArithmeticTests {
    @Test func sumsDifferencesNegationAndScaling() {
        let a = Voltage.volts(3)
        let b = Voltage.millivolts(300)
        #expect(abs((a + b).volts - 3.3) < exact)
        #expect(abs((a - b).volts - 2.7) < exact)
        #expect((-a).volts == -3)
        #expect((a * 2).volts == 6)
        #expect((2 * a).volts == 6)
        #expect((a / 4).volts == 0.75)
        #expect(abs(a / b - 10) < exact)
        #expect(Voltage.volts(-2).magnitude == .volts(2))
        #expect(Voltage.zero.volts == 0)
    }

    @Test func compoundAssignment() {
        var power = Power.watts(1)
        power += .watts(2)
        power -= .milliwatts(500)
        power *= 4
        power /= 2
        #expect(abs(power.watts - 5) < exact)
    }

    @Test func genericSumOfReadings() {
        let samples: [Illuminance] = [.lux(100), .lux(200), .lux(300)]
        let mean = samples.reduce(.zero, +) / Double(samples.count)
        #expect(mean == .lux(200))
    }

    @Test func orderingEqualityAndHashing() {
        let sorted = [Distance.meters(1), .millimeters(5), .inches(1)].sorted()
        #expect(sorted == [.millimeters(5), .inches(1), .meters(1)])
        #expect(Set([Distance.millimeters(1_000), .meters(1)]).count == 1)
        #expect(max(Distance.meters(1), .feet(1)) == .meters(1))
    }

    @Test func approximateEquality() {
        #expect(Distance.inches(1).isApproximatelyEqual(to: .millimeters(25.4), tolerance: .millimeters(1e-9)))
        #expect(!Distance.inches(1).isApproximatelyEqual(to: .millimeters(25.5), tolerance: .millimeters(0.05)))
        #expect(Distance.inches(1).isApproximatelyEqual(to: .millimeters(25.5), tolerance: .millimeters(-0.2)))
        #expect(!Distance.meters(.nan).isApproximatelyEqual(to: .meters(.nan), tolerance: .meters(1)))
    }

    @Test func validationRejectsOnlyNonFiniteLinearValues() throws {
        #expect(try Pressure.pascals(-250).validated() == .pascals(-250))
        #expect(try Voltage(validating: 3.3, in: .volts) == .volts(3.3))
        let error = #expect(throws: QuantityError.self) { try (Voltage.volts(1) / 0).validated() }
        #expect(error?.code == .notFinite)
        #expect(error?.quantity == "Voltage")
        #expect(error?.unitSymbol == "V")
        #expect(error?.description == error?.message)
        #expect(throws: QuantityError.self) { try Voltage(validatingBaseValue: .nan) }
    }
}

@Suite("Vector3")
struct Vector3Tests {
    @Test func magnitude() {
        let field = Vector3<MagneticFluxDensity>(x: .microteslas(3), y: .microteslas(4), z: .microteslas(12))
        #expect(abs(field.magnitude.microteslas - 13) < exact)
        #expect(Vector3<Acceleration>.zero.magnitude == .zero)
        let atRest = Vector3(x: .zero, y: .zero, z: Acceleration.gravities(1))
        #expect(atRest.magnitude == .standardGravity)
    }

    @Test func arithmeticAndMap() {
        let a = Vector3(x: AngularVelocity.degreesPerSecond(1), y: .degreesPerSecond(2), z: .degreesPerSecond(3))
        let offset = Vector3(x: AngularVelocity.degreesPerSecond(0.5), y: .degreesPerSecond(0.5), z: .degreesPerSecond(0.5))
        let tolerance = AngularVelocity.degreesPerSecond(1e-9)
        let corrected = a - offset
        #expect(corrected.isApproximatelyEqual(
            to: Vector3(x: .degreesPerSecond(0.5), y: .degreesPerSecond(1.5), z: .degreesPerSecond(2.5)),
            tolerance: tolerance))
        #expect((corrected + offset).isApproximatelyEqual(to: a, tolerance: tolerance))
        #expect((a * 2).isApproximatelyEqual(to: a + a, tolerance: tolerance))
        #expect((a / 2 * 2).isApproximatelyEqual(to: a, tolerance: tolerance))
        #expect((-a).x == .degreesPerSecond(-1))
        #expect(a.map { $0 * 0 } == .zero)
        #expect(!a.isApproximatelyEqual(to: .zero, tolerance: tolerance))
    }

    @Test func descriptionAndCodable() throws {
        let vector = Vector3(x: Acceleration.metersPerSecondSquared(0.012), y: .metersPerSecondSquared(-0.034), z: .standardGravity)
        #expect(vector.description == "(x: 0.012 m/s², y: -0.034 m/s², z: 9.807 m/s²)")
        let data = try JSONEncoder().encode(vector)
        #expect(try JSONDecoder().decode(Vector3<Acceleration>.self, from: data) == vector)
    }
}

@Suite("Codable")
struct QuantityCodableTests {
    @Test func encodesValueAndUnit() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(Pressure.pascals(101_325)), as: UTF8.self)
        #expect(json == #"{"unit":"Pa","value":101325}"#)
    }

    @Test func roundTrips() throws {
        #expect(try roundTrip(Temperature.celsius(21.5)) == Temperature.celsius(21.5))
        #expect(try roundTrip(Pressure.hectopascals(1013.25)) == .hectopascals(1013.25))
        #expect(try roundTrip(RelativeHumidity.percent(45)) == .percent(45))
        #expect(try roundTrip(MassConcentration.microgramsPerCubicMeter(12.5)) == .microgramsPerCubicMeter(12.5))
        #expect(try roundTrip(Voltage.volts(-1.5)) == .volts(-1.5))
        #expect(try roundTrip(TemperatureDifference.kelvin(-2)) == .kelvin(-2))
    }

    @Test func rejectsAnotherUnit() {
        let json = Data(#"{"value": 21.5, "unit": "°C"}"#.utf8)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(Temperature.self, from: json) }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.debugDescription.contains("stored in 'K', found '°C'"))
    }

    @Test func rejectsATemperatureBelowAbsoluteZero() {
        let json = Data(#"{"value": -5, "unit": "K"}"#.utf8)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(Temperature.self, from: json) }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect((context.underlyingError as? QuantityError)?.code == .outOfRange)
        #expect(context.codingPath.last?.stringValue == "value")
    }

    @Test func rejectsMissingKeys() {
        let json = Data(#"{"value": 5}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Voltage.self, from: json) }
    }

    private func roundTrip<Q: PhysicalQuantity>(_ quantity: Q) throws -> Q {
        try JSONDecoder().decode(Q.self, from: JSONEncoder().encode(quantity))
    }
}
