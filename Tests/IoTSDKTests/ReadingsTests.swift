import Foundation
import IoTSDK
import Testing

private let nanosecondsPerSecond: Int64 = 1_000_000_000

/// 2023-11-14T22:13:20Z.
private let knownInstant = Timestamp(nanosecondsSinceEpoch: 1_700_000_000 * nanosecondsPerSecond)

@Suite("Timestamp")
struct TimestampTests {
    @Test func descriptionOfKnownInstants() {
        #expect(knownInstant.description == "2023-11-14T22:13:20Z")
        #expect(Timestamp.epoch.description == "1970-01-01T00:00:00Z")
        #expect(Timestamp(nanosecondsSinceEpoch: 1_709_164_800 * nanosecondsPerSecond).description == "2024-02-29T00:00:00Z")
        #expect(Timestamp(nanosecondsSinceEpoch: 951_868_800 * nanosecondsPerSecond).description == "2000-03-01T00:00:00Z")
        #expect(Timestamp(nanosecondsSinceEpoch: -2_208_988_800 * nanosecondsPerSecond).description == "1900-01-01T00:00:00Z")
    }

    @Test func descriptionOfFractionsAndLimits() {
        #expect((knownInstant + .milliseconds(250)).description == "2023-11-14T22:13:20.250Z")
        #expect((knownInstant + .microseconds(1)).description == "2023-11-14T22:13:20.000001Z")
        #expect((knownInstant + .nanoseconds(123_456_789)).description == "2023-11-14T22:13:20.123456789Z")
        #expect(Timestamp(nanosecondsSinceEpoch: -1).description == "1969-12-31T23:59:59.999999999Z")
        #expect(Timestamp(nanosecondsSinceEpoch: .max).description == "2262-04-11T23:47:16.854775807Z")
        #expect(Timestamp(nanosecondsSinceEpoch: .min).description == "1677-09-21T00:12:43.145224192Z")
    }

    @Test func arithmeticWithDuration() {
        let later = knownInstant + .seconds(90)
        #expect(later.nanosecondsSinceEpoch == 1_700_000_090 * nanosecondsPerSecond)
        #expect(later.description == "2023-11-14T22:14:50Z")
        #expect(later - knownInstant == .seconds(90))
        #expect(knownInstant - later == .seconds(-90))
        #expect(knownInstant.duration(to: later) == .seconds(90))
        #expect((later - .seconds(90)) == knownInstant)
        #expect(knownInstant + .seconds(-1) == knownInstant - .seconds(1))
        var moving = knownInstant
        moving += .milliseconds(1_500)
        #expect(moving - knownInstant == .milliseconds(1_500))
        #expect(Timestamp.epoch + .seconds(1_700_000_000) == knownInstant)
    }

    @Test func subNanosecondPartsAreTruncatedTowardsZero() {
        let oneAndAHalfNanoseconds = Duration(secondsComponent: 0, attosecondsComponent: 1_500_000_000)
        #expect((knownInstant + oneAndAHalfNanoseconds).nanosecondsSinceEpoch == knownInstant.nanosecondsSinceEpoch + 1)
        #expect((knownInstant - oneAndAHalfNanoseconds).nanosecondsSinceEpoch == knownInstant.nanosecondsSinceEpoch - 1)
    }

    @Test func differenceOfExtremesDoesNotOverflow() {
        let span = Timestamp(nanosecondsSinceEpoch: .min).duration(to: Timestamp(nanosecondsSinceEpoch: .max))
        #expect(span == .nanoseconds(Int64.max) + .nanoseconds(Int64.max) + .nanoseconds(1))
    }

    @Test func ordering() {
        let times = [knownInstant + .seconds(1), .epoch, knownInstant]
        #expect(times.sorted() == [.epoch, knownInstant, knownInstant + .seconds(1)])
        #expect(Timestamp.epoch < knownInstant)
    }

    @Test func nowReadsTheWallClock() throws {
        let first = try Timestamp.now()
        #expect(first > knownInstant, "the wall clock is set to before 2023-11-14")
        #expect(first.nanosecondsSinceEpoch % nanosecondsPerSecond >= 0)
    }

    @Test func codableIsTheNanosecondCount() throws {
        let data = try JSONEncoder().encode(knownInstant)
        #expect(String(decoding: data, as: UTF8.self) == "1700000000000000000")
        #expect(try JSONDecoder().decode(Timestamp.self, from: data) == knownInstant)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Timestamp.self, from: Data("1.5".utf8)) }
    }
}

@Suite("Reading")
struct ReadingTests {
    @Test func valueTimestampAndDescription() throws {
        let reading = Reading(value: try Temperature.celsius(21.5), timestamp: knownInstant)
        #expect(reading.value == (try Temperature.celsius(21.5)))
        #expect(reading.timestamp == knownInstant)
        #expect(reading.description == "21.50 °C at 2023-11-14T22:13:20Z")
    }

    @Test func mapKeepsTheTimestamp() throws {
        let vector = Vector3(x: Acceleration.zero, y: .zero, z: .gravities(1))
        let reading = Reading(value: vector, timestamp: knownInstant)
        let z = reading.map(\.z)
        #expect(z.value == .standardGravity)
        #expect(z.timestamp == knownInstant)
        let inG = reading.map { $0.magnitude.gravities }
        #expect(inG.value == 1)
    }

    @Test func mapRethrowsTheTransformsError() throws {
        let reading = Reading(value: -1.0, timestamp: knownInstant)
        let error = #expect(throws: QuantityError.self) {
            try reading.map { (kelvin: Double) throws(QuantityError) in try Temperature.kelvin(kelvin) }
        }
        #expect(error?.code == .outOfRange)
    }

    @Test func equatableAndHashableWhenTheValueIs() {
        let a = Reading(value: Pressure.hectopascals(1013.25), timestamp: knownInstant)
        let b = Reading(value: Pressure.pascals(101_325), timestamp: knownInstant)
        let c = Reading(value: Pressure.pascals(101_325), timestamp: knownInstant + .seconds(1))
        #expect(a == b)
        #expect(a != c)
        #expect(Set([a, b, c]).count == 2)
    }

    @Test func codableRoundTrip() throws {
        let reading = Reading(value: RelativeHumidity.percent(45), timestamp: knownInstant)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(reading)
        #expect(String(decoding: data, as: UTF8.self)
            == #"{"timestamp":1700000000000000000,"value":{"unit":"%RH","value":45}}"#)
        #expect(try JSONDecoder().decode(Reading<RelativeHumidity>.self, from: data) == reading)
    }

    @Test func stampedNow() throws {
        let before = try Timestamp.now()
        let reading = try Reading(value: Illuminance.lux(350))
        #expect(reading.timestamp >= before)
        #expect(reading.value == .lux(350))
    }
}

// MARK: - Sensor and Actuator

/// A thermometer that returns scripted raw values, or fails as a bus would.
private actor ScriptedThermometer: Sensor {
    struct BusError: Error, Equatable {}

    private var rawCelsius: [Double]

    init(rawCelsius: [Double]) {
        self.rawCelsius = rawCelsius
    }

    func read() async throws -> Reading<Temperature> {
        guard !rawCelsius.isEmpty else { throw BusError() }
        let raw = rawCelsius.removeFirst()
        return Reading(value: try Temperature.celsius(raw), timestamp: knownInstant)
    }
}

/// A relay whose safe state is open.
private actor Relay: Actuator {
    private(set) var isClosed = false
    private(set) var safeStateCount = 0

    func apply(_ command: Bool) async throws {
        isClosed = command
    }

    func enterSafeState() async throws {
        isClosed = false
        safeStateCount += 1
    }
}

@Suite("Sensor and Actuator")
struct SensorActuatorTests {
    @Test func readThroughAnExistential() async throws {
        let sensor: any Sensor<Temperature> = ScriptedThermometer(rawCelsius: [21.5])
        let reading = try await sensor.read()
        #expect(reading.value.description == "21.50 °C")
        #expect(reading.timestamp == knownInstant)
    }

    @Test func readErrorsPropagate() async throws {
        let sensor = ScriptedThermometer(rawCelsius: [-300])
        let error = await #expect(throws: QuantityError.self) { try await sensor.read() }
        #expect(error?.code == .outOfRange)
        await #expect(throws: ScriptedThermometer.BusError()) { try await sensor.read() }
    }

    @Test func safeStateFromAnotherTask() async throws {
        let relay = Relay()
        try await relay.apply(true)
        #expect(await relay.isClosed)
        let host: any Actuator = relay
        try await Task.detached { try await host.enterSafeState() }.value
        try await relay.enterSafeState()
        #expect(await relay.isClosed == false)
        #expect(await relay.safeStateCount == 2)
    }
}
