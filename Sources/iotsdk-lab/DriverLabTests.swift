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
        try expect(abs(reading.value.temperature.celsius - expected.temperatureCelsius) <= 0.005,
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
    LabTest(name: "drivers.mcp9808-over-smbus-words") {
        // MCP9808 registers are 16-bit, MSB first: on i2c-stub they are SMBus words.
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let stub = bus.device(0x18)
        try stub.writeRegister16(0x06, 0x0054)   // manufacturer ID (datasheet register 5-6)
        try stub.writeRegister16(0x07, 0x0400)   // device ID 04h, revision 00h
        try stub.writeRegister16(0x01, 0x0000)   // CONFIG: continuous conversion
        // T_A = 0x0194: 0x19 = 25 °C plus 0x4/16 = 0.25 °C (datasheet Register 5-4 bit weights).
        try stub.writeRegister16(0x05, 0x0194)
        let sensor = try await MCP9808(device: stub)
        let reading = try await sensor.read()
        try expectEqual(reading.value.temperature.celsius, 25.25, "ambient temperature")
        print("  MCP9808 on i2c-stub: \(reading.value)")
        // A negative temperature: sign bit set, 0x1FF0 = -1 °C (two's complement of 13 bits).
        try stub.writeRegister16(0x05, 0x1FF0)
        try expectEqual(try await sensor.read().value.temperature.celsius, -1.0, "negative ambient temperature")
        // The wrong manufacturer: a clear wrongChip error naming the value found.
        try stub.writeRegister16(0x06, 0x1234)
        do {
            _ = try await MCP9808(device: stub)
            throw LabFailure(description: "manufacturer 0x1234 was accepted as an MCP9808")
        } catch let error as SensorError {
            try expectEqual(error.code, .wrongChip)
            try expect(error.message.contains("1234"), error.message)
        }
    },
]
