import Foundation
import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

/// The code shown in the documentation, run on the simulated board so that it cannot rot.
@Suite("Documentation snippets")
struct DocumentationSnippetTests {
    /// Documentation/GettingStarted.md, step 6: the app's loop, one pass, with the simulated GPIO
    /// and a simulated BME280 (the datasheet's example registers: 25.08 °C) in place of the Pi's.
    @Test("GettingStarted.md's app: a stored temperature, and the LED on above 25 °C")
    func gettingStartedApp() async throws {
        let board = SimulatedGPIO()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snippet-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let gpio = GPIO.simulated(board)
        let led = try gpio.output(.bcm(17))
        let bme = try await BME280(device: SimulatedI2CBus(devices: [0x76: SimulatedBME280()]).device(0x76))
        let store = try await TimeSeriesStore(database: try Database(path: directory + "/readings.sqlite"))
        let reading = try await bme.read()
        try await store.append(reading.map { $0.temperature }, to: "temperature")
        try led.set(reading.value.temperature.celsius > 25 ? .active : .inactive)

        #expect(try board.level(chip: "pinctrl-bcm2711", offset: 17))
        let stored = try await store.readings(in: "temperature", as: Temperature.self)
        #expect(stored.map(\.value.celsius) == [reading.value.temperature.celsius])
    }
}
