import IoTSDK
@testable import SensorDrivers
import SensorDriversTesting
import Dispatch
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Conversions against the datasheets

@Suite("DS18B20 conversions")
struct DS18B20ConversionTests {
    /// DS18B20 datasheet, Table 1 (Temperature/Data Relationship), 12-bit.
    static let table1: [(celsius: Double, register: UInt16)] = [
        (125, 0x07D0), (85, 0x0550), (25.0625, 0x0191), (10.125, 0x00A2), (0.5, 0x0008),
        (0, 0x0000), (-0.5, 0xFFF8), (-10.125, 0xFF5E), (-25.0625, 0xFE6F), (-55, 0xFC90),
    ]

    @Test("Table 1 of the DS18B20 datasheet", arguments: table1)
    func datasheetTable1(row: (celsius: Double, register: UInt16)) {
        #expect(DS18B20.celsius(temperatureRegister: row.register) == row.celsius)
    }

    @Test("Extremes of the 16-bit register: 07FFh = 127.9375 °C, FFFFh = −0.0625 °C")
    func registerExtremes() {
        #expect(DS18B20.celsius(temperatureRegister: 0x07FF) == 127.9375)
        #expect(DS18B20.celsius(temperatureRegister: 0xFFFF) == -0.0625)
        #expect(DS18B20.celsius(temperatureRegister: 0x0001) == 0.0625)
    }

    /// Datasheet "Operation—Measuring Temperature": at 11 bits bit 0 is undefined, at 10 bits
    /// bits 1–0, at 9 bits bits 2–0.
    @Test("Undefined low bits are cleared at lower resolutions")
    func resolutionMasks() {
        #expect(DS18B20.celsius(temperatureRegister: 0x0197, resolution: .bits9) == 25.0)
        #expect(DS18B20.celsius(temperatureRegister: 0x0197, resolution: .bits10) == 25.25)
        #expect(DS18B20.celsius(temperatureRegister: 0x0197, resolution: .bits11) == 25.375)
        #expect(DS18B20.celsius(temperatureRegister: 0x0197, resolution: .bits12) == 25.4375)
        // −10.125 °C (FF5Eh) at 9 bits: the 0.125 and 0.25 bits are dropped, towards −∞.
        #expect(DS18B20.celsius(temperatureRegister: 0xFF5E, resolution: .bits9) == -10.5)
    }

    /// Datasheet "Configuration Register" (0 R1 R0 1 1 1 1 1) and Table 2 (Thermometer
    /// Resolution Configuration: 93.75, 187.5, 375, 750 ms).
    @Test("Resolution: configuration register values and maximum conversion times")
    func resolutionTable() throws {
        #expect(DS18B20.Resolution.allCases.map(\.configurationRegister) == [0x1F, 0x3F, 0x5F, 0x7F])
        #expect(DS18B20.Resolution.allCases.map(\.maximumConversionTime)
                == [.microseconds(93_750), .microseconds(187_500), .milliseconds(375), .milliseconds(750)])
        #expect(DS18B20.Resolution.allCases.map(\.stepCelsius) == [0.5, 0.25, 0.125, 0.0625])
        #expect(DS18B20.Resolution(configurationRegister: 0x7F) == .bits12)
        #expect(DS18B20.Resolution(configurationRegister: 0x3F) == .bits10)
        #expect(try DS18B20.Resolution(bits: 11) == .bits11)
        let error = #expect(throws: SensorError.self) { try DS18B20.Resolution(bits: 13) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("9, 10, 11 or 12") == true)
    }

    /// DS18S20 datasheet, Table 1 (Temperature/Data Relationship), 0.5 °C per bit.
    @Test("Table 1 of the DS18S20 datasheet")
    func ds18s20Table1() {
        let rows: [(Double, UInt16)] = [(85, 0x00AA), (25, 0x0032), (0.5, 0x0001), (0, 0x0000),
                                        (-0.5, 0xFFFF), (-25, 0xFFCE), (-55, 0xFF92)]
        for (celsius, register) in rows {
            #expect(DS18B20.ds18s20HalfDegreeCelsius(temperatureRegister: register) == celsius)
        }
    }

    /// DS18S20 datasheet, "Operation—Measuring Temperature": extended resolution
    /// TEMP_READ − 0.25 + (COUNT_PER_C − COUNT_REMAIN) / COUNT_PER_C.
    @Test("DS18S20 extended resolution from COUNT_REMAIN")
    func ds18s20Extended() {
        #expect(DS18B20.ds18s20Celsius(temperatureRegister: 0x0032, countRemain: 12, countPerDegree: 16) == 25.0)
        #expect(DS18B20.ds18s20Celsius(temperatureRegister: 0x0033, countRemain: 4, countPerDegree: 16) == 25.5)
        #expect(DS18B20.ds18s20Celsius(temperatureRegister: 0xFFCE, countRemain: 16, countPerDegree: 16) == -25.25)
        #expect(DS18B20.ds18s20Celsius(temperatureRegister: 0x0032, countRemain: 12, countPerDegree: 0) == nil)
    }
}

// MARK: - CRC-8

@Suite("Dallas/Maxim 1-Wire CRC-8")
struct DallasCRC8Tests {
    /// Maxim Application Note 27's worked example: the ROM code with family 02h and serial
    /// 00 00 00 01 B8 1C carries CRC A2h.
    @Test("Application Note 27 example ROM code")
    func applicationNoteExample() {
        #expect(DallasCRC8.checksum([0x02, 0x1C, 0xB8, 0x01, 0x00, 0x00, 0x00]) == 0xA2)
        #expect(DallasCRC8.isValid([0x02, 0x1C, 0xB8, 0x01, 0x00, 0x00, 0x00, 0xA2]))
    }

    @Test("A known-good DS18B20 scratchpad (23.125 °C, 12-bit)")
    func knownGoodScratchpad() throws {
        let bytes: [UInt8] = [0x72, 0x01, 0x4B, 0x46, 0x7F, 0xFF, 0x0E, 0x10, 0x57]
        #expect(DallasCRC8.checksum(bytes.prefix(8)) == 0x57)
        #expect(DallasCRC8.checksum(bytes) == 0)
        let scratchpad = try DS18B20Scratchpad(bytes: bytes)
        #expect(scratchpad.isCRCValid)
        #expect(scratchpad.resolution == .bits12)
        #expect(scratchpad.highAlarm == 75 && scratchpad.lowAlarm == 70)
        #expect(scratchpad.description == "72 01 4b 46 7f ff 0e 10 57")
    }

    @Test("Any single flipped bit is caught; the all-zero block passes (so it is checked separately)")
    func flippedBits() throws {
        let good: [UInt8] = [0x72, 0x01, 0x4B, 0x46, 0x7F, 0xFF, 0x0E, 0x10, 0x57]
        for byte in 0..<9 {
            for bit in 0..<8 {
                var bad = good
                bad[byte] ^= 1 << bit
                #expect(!DallasCRC8.isValid(bad))
            }
        }
        #expect(DallasCRC8.isValid(Array(repeating: 0, count: 9)))
        #expect(!DallasCRC8.isValid(Array(repeating: 0xFF, count: 9)))
        #expect(!DallasCRC8.isValid([]))
    }
}

// MARK: - w1_slave text and its checks

@Suite("w1_slave parsing and checks")
struct W1SlaveTests {
    static let goodText = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"

    @Test("The kernel's two-line format")
    func parseGood() throws {
        let report = try W1SlaveReport.parse(Self.goodText)
        #expect(report.scratchpad.bytes == [0x72, 0x01, 0x4B, 0x46, 0x7F, 0xFF, 0x0E, 0x10, 0x57])
        #expect(report.kernelCRC == 0x57)
        #expect(report.kernelCRCMatched)
        #expect(report.reportedMillidegrees == 23125)
        let temperature = try DS18B20.temperature(from: report, family: .ds18b20)
        #expect(temperature.celsius == 23.125)
    }

    @Test("Malformed text is invalidData", arguments: [
        "", "72 01 4b 46 7f ff 0e 10 : crc=57 YES", "72 01 4b 46 7f ff 0e 10 zz : crc=57 YES",
        "72 01 4b 46 7f ff 0e 10 57 crc=57 YES", "72 01 4b 46 7f ff 0e 10 57 : crc=57 MAYBE",
    ])
    func parseMalformed(text: String) {
        let error = #expect(throws: SensorError.self) { try W1SlaveReport.parse(text) }
        #expect(error?.code == .invalidData)
    }

    @Test("crc NO is a checksum mismatch, even though line 2 holds a good old scratchpad")
    func kernelSaysNo() throws {
        let text = "76 01 4b 46 7f ff 0e 10 57 : crc=c3 NO\n72 01 4b 46 7f ff 0e 10 57 t=23375\n"
        let report = try W1SlaveReport.parse(text)
        #expect(!report.kernelCRCMatched)
        let error = #expect(throws: SensorError.self) { try DS18B20.temperature(from: report, family: .ds18b20) }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.message.contains("pull-up") == true)
    }

    @Test("A CRC byte that does not match its data is caught even when the text says YES")
    func driverRecomputesCRC() throws {
        let text = "72 01 4b 46 7f ff 0e 10 56 : crc=56 YES\n"
        let error = #expect(throws: SensorError.self) {
            try DS18B20.temperature(from: try W1SlaveReport.parse(text), family: .ds18b20)
        }
        #expect(error?.code == .checksumMismatch)
    }

    @Test("All zeros pass the CRC but are rejected")
    func allZero() throws {
        let text = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"
        let error = #expect(throws: SensorError.self) {
            try DS18B20.temperature(from: try W1SlaveReport.parse(text), family: .ds18b20)
        }
        #expect(error?.code == .invalidData)
        #expect(error?.message.contains("all zeros") == true)
    }

    /// Datasheet Figure 9 (memory map): the power-up state is 50h 05h (+85 °C), byte 6 0Ch.
    @Test("The power-up value +85 °C is rejected with the reason")
    func powerOnValue() throws {
        let bytes: [UInt8] = [0x50, 0x05, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10]
        let report = W1SlaveReport(scratchpad: try DS18B20Scratchpad(bytes: bytes + [DallasCRC8.checksum(bytes)]),
                                   kernelCRC: DallasCRC8.checksum(bytes), kernelCRCMatched: true, reportedMillidegrees: 85000)
        for check in [DS18B20.PowerOnValueCheck.rejectAlways, .rejectWhenByte6IsPowerOnValue] {
            let error = #expect(throws: SensorError.self) { try DS18B20.temperature(from: report, family: .ds18b20, powerOnCheck: check) }
            #expect(error?.code == .invalidData)
            #expect(error?.message.contains("conversion did not run") == true)
            #expect(error?.message.contains("parasite") == true)
        }
    }

    @Test("A real 85 °C (byte 6 changed by the conversion) passes only the byte-6 check")
    func realEightyFive() throws {
        let bytes: [UInt8] = [0x50, 0x05, 0x4B, 0x46, 0x7F, 0xFF, 0x10, 0x10]
        let crc = DallasCRC8.checksum(bytes)
        let report = W1SlaveReport(scratchpad: try DS18B20Scratchpad(bytes: bytes + [crc]), kernelCRC: crc,
                                   kernelCRCMatched: true, reportedMillidegrees: 85000)
        #expect(throws: SensorError.self) { try DS18B20.temperature(from: report, family: .ds18b20) }
        let value = try DS18B20.temperature(from: report, family: .ds18b20, powerOnCheck: .rejectWhenByte6IsPowerOnValue)
        #expect(value.celsius == 85)
    }

    @Test("07FFh (127.94 °C) is a conversion without power, not a temperature")
    func insufficientPower() throws {
        let bytes: [UInt8] = [0xFF, 0x07, 0x4B, 0x46, 0x7F, 0xFF, 0x01, 0x10]
        let crc = DallasCRC8.checksum(bytes)
        let report = W1SlaveReport(scratchpad: try DS18B20Scratchpad(bytes: bytes + [crc]), kernelCRC: crc,
                                   kernelCRCMatched: true, reportedMillidegrees: 127937)
        let error = #expect(throws: SensorError.self) { try DS18B20.temperature(from: report, family: .ds18b20) }
        #expect(error?.code == .invalidData)
        #expect(error?.message.contains("127.94") == true)
    }

    @Test("−0.0625 °C (FFFFh) is a valid reading")
    func minusOneSixteenth() throws {
        let bytes: [UInt8] = [0xFF, 0xFF, 0x4B, 0x46, 0x7F, 0xFF, 0x01, 0x10]
        let crc = DallasCRC8.checksum(bytes)
        let report = W1SlaveReport(scratchpad: try DS18B20Scratchpad(bytes: bytes + [crc]), kernelCRC: crc,
                                   kernelCRCMatched: true, reportedMillidegrees: -62)
        #expect(try DS18B20.temperature(from: report, family: .ds18b20).celsius == -0.0625)
    }
}

// MARK: - The driver on a simulated w1 tree

@Suite("DS18B20 driver on a fake sysfs w1 tree")
struct DS18B20DriverTests {
    /// A fresh tree per test; removed when the test's `defer` runs.
    func makeTree() throws -> FakeSysfsTree {
        try FakeSysfsTree.temporary(prefix: "ds18b20-test")
    }

    @Test("Discovery lists thermometers only, in order")
    func discovery() throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        _ = try SimulatedDS18B20(in: tree, family: 0x28, serial: 0x0316A2795DFF)
        _ = try SimulatedDS18B20(in: tree, family: 0x10, serial: 0x000802B4C6A1)
        _ = try SimulatedDS18B20(in: tree, family: 0x28, serial: 0x00000A1B2C3D)
        try tree.write("2d-00000f1e2d3c\n", to: "bus/w1/devices/2d-00000f1e2d3c/name")   // a DS2431 EEPROM
        let all = W1Devices.all(paths: tree.paths).map(\.rawValue)
        #expect(all == ["10-000802b4c6a1", "28-00000a1b2c3d", "28-0316a2795dff", "2d-00000f1e2d3c"])
        let thermometers = W1Devices.thermometers(paths: tree.paths)
        #expect(thermometers.map(\.rawValue) == ["10-000802b4c6a1", "28-00000a1b2c3d", "28-0316a2795dff"])
        #expect(thermometers.map(\.thermometerFamily) == [.ds18s20, .ds18b20, .ds18b20])
        #expect(thermometers[2].serial == 0x0316A2795DFF)
        #expect(W1Devices.all(paths: LinuxPaths(sysfs: tree.root + "/nothing")).isEmpty)
    }

    @Test("W1SlaveID accepts only the kernel's name format")
    func slaveIDs() throws {
        #expect(W1SlaveID(rawValue: "28-0316a2795dff")?.family == 0x28)
        #expect(W1SlaveID(rawValue: "w1_bus_master1") == nil)
        #expect(W1SlaveID(rawValue: "28-0316a2795df") == nil)
        #expect(W1SlaveID(rawValue: "2g-0316a2795dff") == nil)
        #expect(try W1SlaveID(family: 0x3B, serial: 0xABC).rawValue == "3b-000000000abc")
        #expect(throws: SensorError.self) { try W1SlaveID(family: 0x28, serial: 1 << 48) }
    }

    @Test("Reads temperatures the simulated sensor is set to")
    func readsTemperatures() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree, celsius: 21.5)
        let id = try #require(W1SlaveID(rawValue: simulated.id))
        let sensor = try await DS18B20(id, paths: tree.paths)
        #expect(sensor.family == .ds18b20)
        #expect(try await sensor.read().value.celsius == 21.5)
        for celsius in [125, 25.0625, -10.125, -55, -0.0625] {
            try simulated.setTemperature(celsius: celsius)
            #expect(try await sensor.read().value.celsius == celsius)
        }
        #expect(try await sensor.resolution() == .bits12)
        #expect(try await sensor.isParasitePowered() == false)
        try simulated.setParasitePower(true)
        #expect(try await sensor.isParasitePowered() == true)
    }

    @Test("A CRC failure throws; the stale good scratchpad on line 2 is never used")
    func crcFailureNeverStale() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree, celsius: 30)
        let sensor = try await DS18B20(try #require(W1SlaveID(rawValue: simulated.id)), paths: tree.paths)
        #expect(try await sensor.read().value.celsius == 30)
        try simulated.inject(.crcError)
        let text = try #require(tree.read(simulated.relativeDirectory + "/w1_slave"))
        #expect(text.contains(" NO\n") && text.hasSuffix("t=30250"))
        let error = await #expect(throws: SensorError.self) { try await sensor.read() }
        #expect(error?.code == .checksumMismatch)
        try simulated.inject(.wrongCRCByte)
        let second = await #expect(throws: SensorError.self) { try await sensor.read() }
        #expect(second?.code == .checksumMismatch)
        try simulated.inject(.none)
        #expect(try await sensor.read().value.celsius == 30)
    }

    @Test("Bus faults: power-up value, insufficient power, shorted line, no answer")
    func busFaults() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree)
        let sensor = try await DS18B20(try #require(W1SlaveID(rawValue: simulated.id)), paths: tree.paths)
        let expected: [(SimulatedDS18B20.Fault, SensorError.Code, String)] = [
            (.powerOnReset, .invalidData, "+85 °C"),
            (.insufficientPower, .invalidData, "127.94"),
            (.shortedLine, .invalidData, "all zeros"),
            (.notResponding, .checksumMismatch, "crc="),
        ]
        for (fault, code, text) in expected {
            try simulated.inject(fault)
            let error = await #expect(throws: SensorError.self) { try await sensor.read() }
            #expect(error?.code == code)
            #expect(error?.message.contains(text) == true, "\(fault): \(error?.message ?? "")")
            #expect(error?.chip == "DS18B20 28-0316a2795dff")
        }
    }

    @Test("Resolution through the resolution attribute, then readings at that resolution")
    func resolutionAttribute() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree, celsius: 25.4375)
        let id = try #require(W1SlaveID(rawValue: simulated.id))
        let sensor = try await DS18B20(id, configuration: .init(resolution: .bits9), paths: tree.paths)
        #expect(tree.read(simulated.relativeDirectory + "/resolution") == "9")
        try simulated.applyWrittenSettings()
        let reading = try await sensor.read()
        #expect(reading.value.celsius == 25.0)
        #expect(try await sensor.resolution() == .bits9)
        try await sensor.setResolution(.bits11)
        try simulated.applyWrittenSettings()
        #expect(try await sensor.read().value.celsius == 25.375)
    }

    @Test("Before Linux 5.9 the resolution is written to w1_slave")
    func oldKernelResolution() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree, celsius: 25.4375, modernKernel: false)
        let id = try #require(W1SlaveID(rawValue: simulated.id))
        let sensor = try await DS18B20(id, configuration: .init(resolution: .bits10), paths: tree.paths)
        #expect(tree.read(simulated.relativeDirectory + "/w1_slave") == "10")
        try simulated.applyWrittenSettings()
        #expect(try await sensor.read().value.celsius == 25.25)
        #expect(try await sensor.resolution() == .bits10)      // from the scratchpad's configuration register
        #expect(try await sensor.isParasitePowered() == nil)
    }

    @Test("DS18S20: extended resolution; no resolution setting")
    func ds18s20() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree, family: 0x10, serial: 0x000802B4C6A1, celsius: 25.3)
        let sensor = try await DS18B20(try #require(W1SlaveID(rawValue: simulated.id)), paths: tree.paths)
        #expect(sensor.family == .ds18s20)
        #expect(try await sensor.read().value.celsius == 25.3125)
        try simulated.setTemperature(celsius: -25.25)
        #expect(try await sensor.read().value.celsius == -25.25)
        let error = await #expect(throws: SensorError.self) { try await sensor.setResolution(.bits12) }
        #expect(error?.code == .unsupported)
        try simulated.inject(.powerOnReset)
        let powerOn = await #expect(throws: SensorError.self) { try await sensor.read() }
        #expect(powerOn?.code == .invalidData)
        let configured = await #expect(throws: SensorError.self) {
            try await DS18B20(try #require(W1SlaveID(rawValue: simulated.id)), configuration: .init(resolution: .bits9), paths: tree.paths)
        }
        #expect(configured?.code == .unsupported)
    }

    @Test("Wrong family, missing slave, unbound driver, unplugged sensor")
    func identityAndPresence() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let simulated = try SimulatedDS18B20(in: tree)
        try tree.write("2d-00000f1e2d3c\n", to: "bus/w1/devices/2d-00000f1e2d3c/name")
        let eeprom = await #expect(throws: SensorError.self) {
            try await DS18B20(try #require(W1SlaveID(rawValue: "2d-00000f1e2d3c")), paths: tree.paths)
        }
        #expect(eeprom?.code == .wrongChip)
        #expect(eeprom?.message.contains("0x2D is a DS2431") == true)
        #expect(eeprom?.message.contains("expected 0x28") == true)

        let missing = await #expect(throws: HardwareError.self) {
            try await DS18B20(try #require(W1SlaveID(rawValue: "28-000000000001")), paths: tree.paths)
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains(simulated.id) == true)

        try tree.write("28-000000000002\n", to: "bus/w1/devices/28-000000000002/name")
        let unbound = await #expect(throws: HardwareError.self) {
            try await DS18B20(try #require(W1SlaveID(rawValue: "28-000000000002")), paths: tree.paths)
        }
        #expect(unbound?.code == .notFound)
        #expect(unbound?.message.contains("modprobe w1_therm") == true)

        let sensor = try await DS18B20(try #require(W1SlaveID(rawValue: simulated.id)), paths: tree.paths)
        simulated.unplug()
        let gone = await #expect(throws: HardwareError.self) { try await sensor.read() }
        #expect(gone?.code == .notFound)
    }

    @Test("connected() opens every thermometer")
    func connected() async throws {
        let tree = try makeTree()
        defer { tree.removeAll() }
        let first = try SimulatedDS18B20(in: tree, serial: 1, celsius: 10)
        _ = try SimulatedDS18B20(in: tree, serial: 2, celsius: 20)
        let sensors = try await DS18B20.connected(paths: tree.paths)
        #expect(sensors.map(\.id.rawValue) == [first.id, "28-000000000002"])
        var values: [Double] = []
        for sensor in sensors { values.append(try await sensor.read().value.celsius) }
        #expect(values == [10, 20])
    }
}

// MARK: - The dedicated thread for blocking reads

@Suite("OffPoolThread")
struct OffPoolThreadTests {
    @Test("Runs the work on another thread and returns its result or error")
    func result() async throws {
        let caller = pthread_self()
        let onOtherThread = try await OffPoolThread.run { pthread_equal(pthread_self(), caller) == 0 }
        #expect(onOtherThread)
        #expect(try await OffPoolThread.run { 6 * 7 } == 42)
        let error = await #expect(throws: HardwareError.self) {
            try await OffPoolThread.run { () throws -> Int in throw HardwareError(.ioError, "boom") }
        }
        #expect(error?.message == "boom")
    }

    @Test("Cancellation returns at once; a timeout throws the given error")
    func cancellationAndTimeout() async throws {
        let task = Task { try await OffPoolThread.run { usleep(300_000); return 1 } }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }

        // The work blocks until the test lets it go, so the timeout must answer while it still runs.
        let gate = DispatchSemaphore(value: 0)
        let finished = Atomic<Bool>(false)
        let error = await #expect(throws: SensorError.self) {
            try await OffPoolThread.run(timeout: .milliseconds(20), onTimeout: { SensorError(.timeout, chip: "test", "slow") }) {
                _ = gate.wait(timeout: .now() + 10)
                finished.store(true, ordering: .relaxed)
                return 1
            }
        }
        #expect(error?.code == .timeout)
        let workFinished = finished.load(ordering: .relaxed)
        #expect(!workFinished, "the timeout came before the blocked work finished")
        gate.signal()
    }
}
