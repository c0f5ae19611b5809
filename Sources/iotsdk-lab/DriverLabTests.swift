import IoTSDK
import SensorDrivers
import SensorDriversTesting

/// Drivers read through i2c-stub, the SMBus fallback, with registers preloaded from a
/// datasheet calibration dump.
let driverLabTests: [LabTest] = [
    LabTest(name: "drivers.bme280-over-smbus-from-datasheet-dump") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        try expect(!bus.functionality.contains(.i2c), "i2c-stub is SMBus-only, so this exercises the fallback")
        let stub = bus.device(0x76)
        for (register, value) in SimulatedBME280.datasheetExampleRegisters.sorted(by: { $0.key < $1.key }) {
            try stub.writeRegister(register, value)
        }
        let sensor = try await BME280(device: stub)
        let reading = try await sensor.read()
        let expected = SimulatedBME280.datasheetExampleReading
        try expect(reading.value.temperature.celsius.isApproximatelyEqual(to: expected.temperatureCelsius, tolerance: 0.005),
                   "temperature \(reading.value.temperature), expected \(expected.temperatureCelsius) °C")
        let pressure = reading.value.pressure?.pascals ?? .nan
        try expect(abs(pressure - expected.pressurePascals) < 0.01, "pressure \(pressure) Pa, expected \(expected.pressurePascals)")
        let humidity = reading.value.humidity?.percent ?? .nan
        try expect(abs(humidity - expected.humidityPercent) < 0.001, "humidity \(humidity) %RH, expected \(expected.humidityPercent)")
        print("  BME280 on i2c-stub: \(reading.value)")
        // The same bytes but chip id 0x58: the BME280 driver names the BMP280 it found.
        try stub.writeRegister(0xD0, 0x58)
        do {
            _ = try await BME280(device: stub)
            throw LabFailure(description: "a BMP280 id was accepted as a BME280")
        } catch let error as SensorError {
            try expectEqual(error.code, .wrongChip)
            try expect(error.message.contains("BMP280"), error.message)
        }
        try stub.writeRegister(0xD0, 0x60)
    },
]

extension Double {
    func isApproximatelyEqual(to other: Double, tolerance: Double) -> Bool { abs(self - other) <= tolerance }
}
