import Foundation
import IoTSDK
import IoTSDKFoundation
import Testing

private let exact = 1e-9

@Suite("Foundation Measurement bridge")
struct MeasurementBridgeTests {
    @Test func temperature() throws {
        let fromFahrenheit = try Temperature(Measurement(value: 32, unit: UnitTemperature.fahrenheit))
        #expect(abs(fromFahrenheit.kelvin - 273.15) < exact)
        let ambient = try Temperature.celsius(21.5)
        #expect(ambient.measurement.unit == .kelvin)
        #expect(abs(ambient.measurement.value - 294.65) < exact)
        #expect(abs(ambient.measurement(in: .celsius).value - 21.5) < exact)
        #expect(abs(try Temperature.celsius(-40).measurement(in: .fahrenheit).value - -40) < exact)
    }

    @Test func temperatureBelowAbsoluteZeroThrows() {
        let error = #expect(throws: QuantityError.self) {
            try Temperature(Measurement(value: -500, unit: UnitTemperature.fahrenheit))
        }
        #expect(error?.code == .outOfRange)
    }

    @Test func nonFiniteMeasurementThrows() {
        let error = #expect(throws: QuantityError.self) {
            try Voltage(Measurement(value: .nan, unit: UnitElectricPotentialDifference.volts))
        }
        #expect(error?.code == .notFinite)
    }

    @Test func pressure() throws {
        let pressure = try Pressure(Measurement(value: 1013.25, unit: UnitPressure.hectopascals))
        #expect(abs(pressure.pascals - 101_325) < exact)
        // Foundation's own coefficients: inHg 3386.39 Pa, mmHg 133.322 Pa, psi 6894.76 Pa.
        #expect(abs(pressure.measurement(in: .inchesOfMercury).value - 29.921) < 0.001)
        #expect(abs(pressure.measurement(in: .millimetersOfMercury).value - 760) < 0.01)
        #expect(abs(pressure.measurement(in: .poundsForcePerSquareInch).value - 14.696) < 0.001)
        #expect(abs(pressure.measurement(in: .bars).value - 1.01325) < exact)
    }

    @Test func electricalQuantities() throws {
        #expect(abs(try Voltage(Measurement(value: 3_300, unit: UnitElectricPotentialDifference.millivolts)).volts - 3.3) < exact)
        #expect(abs(try ElectricCurrent(Measurement(value: 250, unit: UnitElectricCurrent.microamperes)).milliamperes - 0.25) < exact)
        #expect(abs(try ElectricResistance(Measurement(value: 4.7, unit: UnitElectricResistance.kiloohms)).ohms - 4_700) < exact)
        #expect(abs(try Power(Measurement(value: 330, unit: UnitPower.milliwatts)).watts - 0.33) < exact)
        #expect(abs(Power.watts(1_200).measurement(in: .kilowatts).value - 1.2) < exact)
        #expect(abs(ElectricCurrent.milliamperes(12.5).measurement(in: .amperes).value - 0.0125) < exact)
    }

    @Test func motionDistanceFrequencyLight() throws {
        #expect(abs(try Distance(Measurement(value: 1, unit: UnitLength.inches)).millimeters - 25.4) < exact)
        #expect(abs(Distance.feet(1).measurement(in: .inches).value - 12) < exact)
        #expect(try Acceleration(Measurement(value: 9.806_65, unit: UnitAcceleration.metersPerSecondSquared)) == .gravities(1))
        // Foundation's `gravity` unit is 9.81 m/s², not standard gravity.
        #expect(abs(try Acceleration(Measurement(value: 1, unit: UnitAcceleration.gravity)).metersPerSecondSquared - 9.81) < exact)
        #expect(abs(try Frequency(Measurement(value: 400, unit: UnitFrequency.kilohertz)).hertz - 400_000) < exact)
        #expect(try Illuminance(Measurement(value: 350, unit: UnitIlluminance.lux)) == .lux(350))
    }

    @Test func concentrations() throws {
        #expect(try Concentration(Measurement(value: 415, unit: UnitDispersion.partsPerMillion)) == .partsPerMillion(415))
        let particulates = try MassConcentration(Measurement(value: 1.25e-8, unit: UnitConcentrationMass.gramsPerLiter))
        #expect(abs(particulates.microgramsPerCubicMeter - 12.5) < exact)
        let measurement = MassConcentration.microgramsPerCubicMeter(35).measurement
        #expect(measurement.unit.symbol == "µg/m³")
        #expect(abs(measurement.converted(to: .gramsPerLiter).value - 3.5e-8) < 1e-20)
    }

    @Test func everyBridgedQuantityRoundTrips() throws {
        try expectRoundTrip(Temperature.celsius(21.5))
        try expectRoundTrip(Pressure.hectopascals(1013.25))
        try expectRoundTrip(Illuminance.lux(350))
        try expectRoundTrip(Voltage.millivolts(3_300))
        try expectRoundTrip(ElectricCurrent.milliamperes(-12.5))
        try expectRoundTrip(ElectricResistance.kiloohms(4.7))
        try expectRoundTrip(Power.milliwatts(330))
        try expectRoundTrip(Acceleration.gravities(-0.5))
        try expectRoundTrip(Distance.inches(10))
        try expectRoundTrip(Frequency.kilohertz(400))
        try expectRoundTrip(Concentration.partsPerMillion(415))
        try expectRoundTrip(MassConcentration.microgramsPerCubicMeter(12.5))
    }

    private func expectRoundTrip<Q: MeasurementConvertible>(
        _ quantity: Q, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(try Q(quantity.measurement) == quantity, sourceLocation: sourceLocation)
        #expect(quantity.measurement.unit == Q.foundationBaseUnit, sourceLocation: sourceLocation)
    }
}

@Suite("Angular velocity without UnitAngularVelocity")
struct AngularVelocityBridgeTests {
    @Test func angleOverDuration() throws {
        let rate = try AngularVelocity(turning: Measurement(value: 90, unit: UnitAngle.degrees), in: .milliseconds(500))
        #expect(abs(rate.radiansPerSecond - Double.pi) < exact)
        #expect(abs(rate.angle(over: .seconds(2)).converted(to: .degrees).value - 360) < exact)
        #expect(abs(AngularVelocity.degreesPerSecond(10).angle(over: .milliseconds(10)).converted(to: .degrees).value - 0.1) < exact)
    }

    @Test func zeroDurationThrows() {
        let error = #expect(throws: QuantityError.self) {
            try AngularVelocity(turning: Measurement(value: 90, unit: UnitAngle.degrees), in: .zero)
        }
        #expect(error?.code == .notFinite)
    }

    @Test func rotationFrequency() throws {
        let rate = try AngularVelocity(rotationFrequency: Measurement(value: 1, unit: UnitFrequency.hertz))
        #expect(abs(rate.radiansPerSecond - 2 * Double.pi) < exact)
        #expect(abs(rate.revolutionsPerMinute - 60) < exact)
        #expect(abs(AngularVelocity.revolutionsPerMinute(3_000).rotationFrequency.value - 50) < exact)
    }
}

@Suite("Timestamp and Date")
struct TimestampDateTests {
    @Test func wholeSecondsConvertExactly() throws {
        let timestamp = Timestamp(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)
        #expect(Date(timestamp) == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(try Timestamp(Date(timeIntervalSince1970: 1_700_000_000)) == timestamp)
        #expect(try Timestamp(Date(timeIntervalSince1970: 0)) == .epoch)
    }

    @Test func beforeTheEpoch() throws {
        let timestamp = try Timestamp(Date(timeIntervalSince1970: -1.5))
        #expect(timestamp.nanosecondsSinceEpoch == -1_500_000_000)
        #expect(timestamp.description == "1969-12-31T23:59:58.500Z")
        #expect(Date(timestamp).timeIntervalSince1970 == -1.5)
    }

    @Test func roundTripIsWithinAMicrosecond() throws {
        let timestamp = Timestamp(nanosecondsSinceEpoch: 1_700_000_000_123_456_789)
        let back = try Timestamp(Date(timestamp))
        #expect(abs(back.nanosecondsSinceEpoch - timestamp.nanosecondsSinceEpoch) < 1_000)
        #expect(abs(Date(timestamp).timeIntervalSince1970 - 1_700_000_000.123_456_789) < 1e-6)
    }

    @Test func datesOutsideTheRangeThrow() {
        for interval in [Double.nan, .infinity, 1e12, -1e12] {
            let error = #expect(throws: TimestampError.self) { try Timestamp(Date(timeIntervalSince1970: interval)) }
            #expect(error?.code == .outOfRange)
        }
    }

    @Test func now() throws {
        let date = Date(try Timestamp.now())
        #expect(abs(date.timeIntervalSinceNow) < 60)
    }
}
