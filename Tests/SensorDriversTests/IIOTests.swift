import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

/// Equal within `tolerance` (quantities are stored in base units, so 23.45 °C comes back as
/// 23.449999999999989 after the kelvin round trip).
private func isClose(_ value: Double?, _ expected: Double, within tolerance: Double = 1e-9) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= tolerance
}

// MARK: - Attribute names and channels

@Suite("IIO channel names")
struct IIOChannelNameTests {
    @Test("Channel names split into type, index, differential input and modifier")
    func parseNames() throws {
        let temp = try #require(IIOChannel.parse(channelName: "temp"))
        #expect(temp.type == .temp && temp.index == nil && temp.modifier == nil && temp.differentialIndex == nil)
        let voltage = try #require(IIOChannel.parse(channelName: "voltage0"))
        #expect(voltage.type == .voltage && voltage.index == 0)
        let accel = try #require(IIOChannel.parse(channelName: "accel_x"))
        #expect(accel.type == .accel && accel.index == nil && accel.modifier == "x")
        let differential = try #require(IIOChannel.parse(channelName: "voltage2-voltage3"))
        #expect(differential.index == 2 && differential.differentialIndex == 3)
        let supply = try #require(IIOChannel.parse(channelName: "voltage12_supply"))
        #expect(supply.index == 12 && supply.modifier == "supply")
        let pm = try #require(IIOChannel.parse(channelName: "massconcentration_pm2p5"))
        #expect(pm.type == .massConcentration && pm.modifier == "pm2p5")
        #expect(IIOChannel.parse(channelName: "humidityrelative")?.type == .humidityRelative)
        for bad in ["", "voltage-voltage", "Temp", "voltage0-current1", "voltage0_", "0voltage"] {
            #expect(IIOChannel.parse(channelName: bad) == nil, "\(bad)")
        }
    }

    /// The attribute set of the kernel's ads1015 driver (drivers/iio/adc/ti-ads1015.c): per-channel
    /// raw, scale and sampling frequency, plus what else a device directory holds.
    @Test("Channels from an ads1015-like directory listing; other attributes ignored")
    func channelsFromListing() {
        let files = ["name", "dev", "power", "subsystem", "uevent", "buffer", "scan_elements", "trigger", "events",
                     "in_voltage0_raw", "in_voltage0_scale", "in_voltage0_sampling_frequency",
                     "in_voltage1_raw", "in_voltage1_scale",
                     "in_voltage0-voltage1_raw", "in_voltage0-voltage1_scale",
                     "in_voltage_scale_available", "in_voltage0_scale_available",
                     "in_accel_x_peak_raw", "out_voltage0_raw", "sampling_frequency"]
        let channels = IIOChannel.channels(inAttributes: files)
        #expect(channels.map(\.name) == ["voltage0", "voltage0-voltage1", "voltage1"])
        #expect(channels.allSatisfy { !$0.isProcessed && $0.offsetAttribute == nil })
        #expect(channels.map(\.scaleAttribute) == ["in_voltage0_scale", "in_voltage0-voltage1_scale", "in_voltage1_scale"])
    }

    @Test("Own scale first, then shared by type, by direction, by device")
    func sharedScaleAndOffset() {
        let files = ["in_temp0_raw", "in_temp1_raw", "in_temp_scale", "in_temp1_scale", "in_temp_offset",
                     "in_voltage0-voltage1_raw", "in_voltage-voltage_scale",
                     "in_current0_raw", "in_scale", "in_illuminance_raw", "scale", "in_humidityrelative_input"]
        let channels = IIOChannel.channels(inAttributes: files)
        let scale = Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0.scaleAttribute) })
        #expect(scale["temp0"] == "in_temp_scale")
        #expect(scale["temp1"] == "in_temp1_scale")
        #expect(scale["voltage0-voltage1"] == "in_voltage-voltage_scale")
        #expect(scale["current0"] == "in_scale")
        #expect(scale["illuminance"] == "in_scale")
        #expect(channels.first { $0.name == "temp1" }?.offsetAttribute == "in_temp_offset")
        #expect(channels.first { $0.name == "humidityrelative" }?.inputAttribute == "in_humidityrelative_input")
        #expect(channels.count == 6)
    }
}

// MARK: - Arithmetic and units

@Suite("IIO conversions")
struct IIOConversionTests {
    @Test("Numbers as the kernel prints them")
    func parseValues() {
        #expect(IIOConversion.parseValue("23450\n") == 23450)
        #expect(IIOConversion.parseValue("-12") == -12)
        #expect(IIOConversion.parseValue("100.523437500") == 100.5234375)
        #expect(IIOConversion.parseValue("-0.062500000") == -0.0625)
        #expect(IIOConversion.parseValue(" 1.000000000 ") == 1)
        for bad in ["", "abc", "1 2 4 8", "nan", "inf"] {
            #expect(IIOConversion.parseValue(bad) == nil, "\(bad)")
        }
    }

    /// ABI: `_offset` is added to `_raw` before scaling. The Xilinx XADC driver's on-die
    /// temperature is a worked case: scale 503975/4096 m°C per count, offset
    /// −(273150 × 4096)/503975 ≈ −2219 counts.
    @Test("(raw + offset) × scale")
    func processed() {
        let milliCelsius = IIOConversion.processed(raw: 2570, offset: -2219, scale: 503975.0 / 4096)
        #expect(abs(milliCelsius - 43187.31) < 0.01)
        #expect(IIOConversion.processed(raw: 1000) == 1000)
        #expect(IIOConversion.processed(raw: -512, scale: 2) == -1024)
    }

    /// Units from Documentation/ABI/testing/sysfs-bus-iio.
    @Test("ABI units become typed quantities")
    func abiUnits() throws {
        #expect(try IIOChannelType.temp.quantity(fromABIValue: 23450) == .temperature(try .celsius(23.45)))
        guard case .pressure(let pressure) = try IIOChannelType.pressure.quantity(fromABIValue: 100.5234375) else {
            Issue.record("not a pressure"); return
        }
        #expect(isClose(pressure.hectopascals, 1005.234375))
        guard case .relativeHumidity(let humidity) = try IIOChannelType.humidityRelative.quantity(fromABIValue: 45678.5) else {
            Issue.record("not a humidity"); return
        }
        #expect(isClose(humidity.percent, 45.6785))
        #expect(try IIOChannelType.voltage.quantity(fromABIValue: 1234) == .voltage(.volts(1.234)))
        #expect(try IIOChannelType.current.quantity(fromABIValue: 250) == .current(.amperes(0.25)))
        #expect(try IIOChannelType.power.quantity(fromABIValue: 1500) == .power(.watts(1.5)))
        #expect(try IIOChannelType.illuminance.quantity(fromABIValue: 350) == .illuminance(.lux(350)))
        #expect(try IIOChannelType.accel.quantity(fromABIValue: 9.80665) == .acceleration(.gravities(1)))
        guard case .angularVelocity(let rate) = try IIOChannelType.angularVelocity.quantity(fromABIValue: Double.pi) else {
            Issue.record("not an angular velocity"); return
        }
        #expect(abs(rate.degreesPerSecond - 180) < 1e-9)
        guard case .magneticField(let field) = try IIOChannelType.magneticField.quantity(fromABIValue: 0.5) else {
            Issue.record("not a field"); return
        }
        #expect(abs(field.teslas - 50e-6) < 1e-15)
        #expect(try IIOChannelType.resistance.quantity(fromABIValue: 82986) == .resistance(.ohms(82986)))
        #expect(try IIOChannelType.concentration.quantity(fromABIValue: 0.04) == .concentration(.partsPerMillion(400)))
        #expect(try IIOChannelType(rawValue: "intensity")?.quantity(fromABIValue: 1234) == .unitless(1234))
        #expect(throws: QuantityError.self) { try IIOChannelType.temp.quantity(fromABIValue: -300_000) }
    }
}

// MARK: - Devices and the sensor on fake sysfs trees

@Suite("IIO sensor on fake sysfs trees")
struct IIOSensorTests {
    func makeTree() throws -> FakeSysfsTree {
        try FakeSysfsTree.temporary(prefix: "iio-test")
    }

    @Test("Discovery: devices in index order, triggers left out, lookup by name")
    func discovery() throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        _ = try SimulatedIIODevice.ads1015(in: tree, index: 10)
        _ = try SimulatedIIODevice.bmp280(in: tree, index: 2)
        try tree.write("sysfstrig0\n", to: "bus/iio/devices/trigger0/name")
        try tree.write("proximity-wifi\n", to: "bus/iio/devices/iio:device2/label")
        let devices = IIODevices.list(paths: tree.paths)
        #expect(devices.map(\.id) == ["iio:device2", "iio:device10"])
        #expect(devices.map(\.name) == ["bmp280", "ads1015"])
        #expect(devices[0].label == "proximity-wifi")
        #expect(devices[0].channels.map(\.name) == ["pressure", "temp"])
        #expect(devices[1].channels.count == 8)
        #expect(try IIODevices.named("ads1015", paths: tree.paths).index == 10)
        let error = #expect(throws: HardwareError.self) { try IIODevices.named("bme680", paths: tree.paths) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("iio:device2 bmp280, iio:device10 ads1015") == true)
    }

    @Test("bmp280: _input is preferred; the values are in the ABI's units")
    func bmp280() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.bmp280(in: tree)
        try simulated.setEnvironment(celsius: 23.45, hectopascals: 1005.234375)
        #expect(simulated.value(of: "in_temp_input") == "23450")
        #expect(simulated.value(of: "in_pressure_input") == "100.523437500")
        let sensor = try IIOSensor(named: "bmp280", channels: ["temp", "pressure"], paths: tree.paths)
        #expect(sensor.channels.allSatisfy { $0.isProcessed })
        var reading = try await sensor.read()
        #expect(isClose(reading.value.temperature()?.celsius, 23.45))
        #expect(isClose(reading.value.pressure()?.hectopascals, 1005.234375))
        // The raw path agrees (raw × scale); a different raw value proves that _input is used.
        try simulated.set("in_temp_raw", to: "9999")
        reading = try await sensor.read()
        #expect(isClose(reading.value.temperature()?.celsius, 23.45))
        #expect(reading.value.description == "pressure: 1005.23 hPa, temp: 23.45 °C")
    }

    @Test("bmp280 raw and scale alone (no _input) give the same value")
    func rawAndScale() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.bmp280(in: tree)
        try simulated.setEnvironment(celsius: -12.5, hectopascals: 987.65)
        simulated.remove("in_temp_input")
        simulated.remove("in_pressure_input")
        let sensor = try IIOSensor(device: try IIODevices.named("bmp280", paths: tree.paths))
        #expect(sensor.channels.allSatisfy { !$0.isProcessed })
        let reading = try await sensor.read()
        #expect(isClose(reading.value.temperature()?.celsius, -12.5))
        // The kernel prints the scale 1/256000 kPa with nine decimals (0.000003906), 0.0064 % low:
        // 0.06 hPa here. _input does not lose it, which is why it is preferred.
        #expect(simulated.value(of: "in_pressure_scale") == "0.000003906")
        #expect(isClose(reading.value.pressure()?.hectopascals, 987.65, within: 0.07))
    }

    @Test("bme680: humidity in percent is corrected to the ABI; gas resistance in ohms")
    func bme680() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.bme680(in: tree)
        try simulated.setEnvironment(celsius: 24.31, hectopascals: 973.56, humidityPercent: 43.215, gasOhms: 82986)
        #expect(simulated.value(of: "in_humidityrelative_input") == "43.215000000")
        let sensor = try IIOSensor(named: "bme680", paths: tree.paths)
        #expect(sensor.channels.map(\.name) == ["humidityrelative", "pressure", "resistance", "temp"])
        let reading = try await sensor.read()
        #expect(isClose(reading.value.temperature()?.celsius, 24.31))
        #expect(isClose(reading.value.relativeHumidity()?.percent, 43.215))
        #expect(isClose(reading.value.pressure()?.hectopascals, 973.56))
        #expect(reading.value["resistance"] == .resistance(.ohms(82986)))
        let uncorrected = try IIOSensor(named: "bme680", channels: ["humidityrelative"],
                                        configuration: .init(unitCorrections: []), paths: tree.paths)
        #expect(isClose(try await uncorrected.read().value.relativeHumidity()?.percent, 0.043215))
    }

    /// ADS1015 datasheet, "Full-Scale Range and LSB Size": ±6.144 V → 3 mV … ±0.256 V → 0.125 mV
    /// per count; the kernel prints that as the scale (mV per count).
    @Test("ads1015: per-channel gains, differential inputs, clipping at full scale")
    func ads1015() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.ads1015(in: tree)
        #expect(simulated.value(of: "in_voltage0_scale") == "1.000000000")
        for (fullScale, lsb) in [(6144.0, "3.000000000"), (4096, "2.000000000"), (1024, "0.500000000"), (512, "0.250000000"), (256, "0.125000000")] {
            try simulated.setFullScale("voltage3", millivolts: fullScale)
            #expect(simulated.value(of: "in_voltage3_scale") == lsb)
        }
        try simulated.setFullScale("voltage1", millivolts: 4096)
        try simulated.setInput("voltage0", volts: 1.0)
        try simulated.setInput("voltage1", volts: 3.3)
        try simulated.setInput("voltage0-voltage1", volts: -0.512)
        try simulated.setInput("voltage2", volts: 2.5)     // above ±2.048 V: clips to 7FFh
        let sensor = try IIOSensor(named: "ads1015", channels: ["voltage0", "voltage1", "voltage0-voltage1", "voltage2"], paths: tree.paths)
        let reading = try await sensor.read()
        #expect(simulated.value(of: "in_voltage0_raw") == "1000")
        #expect(isClose(reading.value.voltage("voltage0")?.volts, 1.0))
        #expect(isClose(reading.value.voltage("voltage1")?.volts, 3.3))
        #expect(isClose(reading.value.voltage("voltage0-voltage1")?.volts, -0.512))
        #expect(simulated.value(of: "in_voltage2_raw") == "2047")
        #expect(isClose(reading.value.voltage("voltage2")?.volts, 2.047))
        let single = try await sensor.read(channel: "voltage3")
        #expect(single.value == .voltage(.volts(0)))
    }

    @Test("ads1115: 16-bit codes, 62.5 µV per count at ±2.048 V")
    func ads1115() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.ads1015(in: tree, realBits: 16)
        #expect(simulated.value(of: "in_voltage0_scale") == "0.062500000")
        try simulated.setInput("voltage0", volts: 1.0)
        #expect(simulated.value(of: "in_voltage0_raw") == "16000")
        let sensor = try IIOSensor(named: "ads1115", channels: ["voltage0"], paths: tree.paths)
        #expect(isClose(try await sensor.read().value.voltage("voltage0")?.volts, 1.0))
    }

    @Test("A raw channel with a shared scale and offset (XADC-like on-die temperature)")
    func sharedOffsetAndScale() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        _ = try SimulatedIIODevice(in: tree, index: 0, name: "xadc", attributes: [
            "in_temp0_raw": "2570", "in_temp_offset": "-2219", "in_temp_scale": "123.040771484",
            "in_voltage0_raw": "1365", "in_voltage1_raw": "2730", "in_voltage_scale": "0.732421875",
        ])
        let sensor = try IIOSensor(named: "xadc", paths: tree.paths)
        let reading = try await sensor.read()
        let celsius = try #require(reading.value.temperature("temp0")?.celsius)
        #expect(abs(celsius - 43.18731) < 1e-4)
        #expect(isClose(reading.value.voltage("voltage0")?.millivolts, 999.755859375))
        #expect(isClose(reading.value.voltage("voltage1")?.millivolts, 1999.51171875))
    }

    @Test("Errors: unknown channel, non-numeric text, vanished device, impossible value")
    func errors() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedIIODevice.bmp280(in: tree)
        let unknown = #expect(throws: SensorError.self) { try IIOSensor(named: "bmp280", channels: ["humidityrelative"], paths: tree.paths) }
        #expect(unknown?.code == .invalidSetting)
        #expect(unknown?.message.contains("pressure, temp") == true)
        #expect(throws: SensorError.self) { try IIOSensor(named: "bmp280", channels: [], paths: tree.paths) }

        let sensor = try IIOSensor(named: "bmp280", channels: ["temp"], paths: tree.paths)
        let badChannel = await #expect(throws: SensorError.self) { try await sensor.read(channel: "accel_x") }
        #expect(badChannel?.code == .invalidSetting)
        try simulated.set("in_temp_input", to: "busy")
        let garbled = await #expect(throws: SensorError.self) { try await sensor.read() }
        #expect(garbled?.code == .invalidData)
        #expect(garbled?.message.contains("in_temp_input reads 'busy'") == true)
        try simulated.set("in_temp_input", to: "-300000")
        await #expect(throws: QuantityError.self) { try await sensor.read() }
        tree.remove(simulated.relativeDirectory)
        let gone = await #expect(throws: HardwareError.self) { try await sensor.read() }
        #expect(gone?.code == .notFound)
    }
}
