import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

/// The SHT3x driver against "Datasheet SHT3x-DIS" (Sensirion, Version 5, May 2018) and the
/// simulated chip.
@Suite struct SHT3xTests {
    let address: I2CAddress = 0x44

    func makeBus(_ chip: SimulatedSHT3x, functionality: I2CFunctionality = .fullI2C) -> SimulatedI2CBus {
        SimulatedI2CBus(functionality: functionality, devices: [address: chip])
    }

    func write(_ bytes: [UInt8]) -> I2CTraceEntry { .transfer(address: 0x44, messages: [.write(bytes)]) }
    func read(_ count: Int) -> I2CTraceEntry { .transfer(address: 0x44, messages: [.read(count: count)]) }

    // MARK: - CRC (section 4.12, Table 20)

    @Test func crcMatchesTheDatasheetExample() {
        // Table 20: "CRC (0xBEEF) = 0x92".
        #expect(SensirionCRC.checksum([0xBE, 0xEF]) == 0x92)
        #expect(SensirionCRC.checksum(word: 0xBEEF) == 0x92)
        #expect(SensirionCRC.polynomial == 0x31)
        #expect(SensirionCRC.initialValue == 0xFF)
    }

    @Test func wordsAreSplitAndChecked() throws {
        let words = try SensirionCRC.words(in: [0xBE, 0xEF, 0x92, 0x00, 0x00, 0x81], chip: "test", what: ["a", "b"])
        #expect(words == [0xBEEF, 0x0000])
        #expect(SensirionCRC.checksum(word: 0x0000) == 0x81)
    }

    @Test func aWrongCRCThrowsChecksumMismatchNamingTheWord() {
        #expect {
            _ = try SensirionCRC.words(in: [0xBE, 0xEF, 0x92, 0x66, 0x66, 0x00], chip: "test", what: ["temperature", "humidity"])
        } throws: { error in
            guard let error = error as? SensorError else { return false }
            return error.code == .checksumMismatch && error.message.contains("humidity") && error.message.contains("0x6666")
        }
    }

    // MARK: - Conversion (section 4.13)

    @Test func temperatureConversionFollowsTheDatasheetFormula() throws {
        // T = -45 + 175 · S / (2^16 - 1): the ends of the scale and 0x6666 = 0.4 · 65535.
        #expect(abs(try SHT3x.temperature(raw: 0).celsius - -45) < 1e-9)
        #expect(abs(try SHT3x.temperature(raw: 0xFFFF).celsius - 130) < 1e-9)
        #expect(abs(try SHT3x.temperature(raw: 0x6666).celsius - 25) < 1e-9)
        #expect(abs(try SHT3x.temperature(raw: 0x8000).celsius - 42.50133) < 1e-5)
    }

    @Test func humidityConversionFollowsTheDatasheetFormula() {
        // RH = 100 · S / (2^16 - 1).
        #expect(SHT3x.humidity(raw: 0).percent == 0)
        #expect(abs(SHT3x.humidity(raw: 0xFFFF).percent - 100) < 1e-9)
        #expect(abs(SHT3x.humidity(raw: 0x6666).percent - 40) < 1e-9)
        #expect(abs(SHT3x.humidity(raw: 0x8000).percent - 50.00076) < 1e-5)
    }

    // MARK: - Command codes and timing (Tables 9-19, section 2.2)

    @Test func commandCodesMatchTheDatasheetTables() {
        // Table 9
        #expect(SHT3x.Command.singleShot(.high, clockStretching: true).rawValue == 0x2C06)
        #expect(SHT3x.Command.singleShot(.medium, clockStretching: true).rawValue == 0x2C0D)
        #expect(SHT3x.Command.singleShot(.low, clockStretching: true).rawValue == 0x2C10)
        #expect(SHT3x.Command.singleShot(.high, clockStretching: false).rawValue == 0x2400)
        #expect(SHT3x.Command.singleShot(.medium, clockStretching: false).rawValue == 0x240B)
        #expect(SHT3x.Command.singleShot(.low, clockStretching: false).rawValue == 0x2416)
        // Table 10: [rate: (high, medium, low)]
        let table10: [(SHT3x.MeasurementRate, [UInt16])] = [
            (.halfPerSecond, [0x2032, 0x2024, 0x202F]), (.onePerSecond, [0x2130, 0x2126, 0x212D]),
            (.twoPerSecond, [0x2236, 0x2220, 0x222B]), (.fourPerSecond, [0x2334, 0x2322, 0x2329]),
            (.tenPerSecond, [0x2737, 0x2721, 0x272A]),
        ]
        for (rate, codes) in table10 {
            #expect(SHT3x.Command.periodic(rate, .high).rawValue == codes[0])
            #expect(SHT3x.Command.periodic(rate, .medium).rawValue == codes[1])
            #expect(SHT3x.Command.periodic(rate, .low).rawValue == codes[2])
        }
        #expect(SHT3x.Command.fetchData.rawValue == 0xE000)           // Table 11
        #expect(SHT3x.Command.accelerateResponse.rawValue == 0x2B32)  // Table 12
        #expect(SHT3x.Command.break.rawValue == 0x3093)               // Table 13
        #expect(SHT3x.Command.softReset.rawValue == 0x30A2)           // Table 14
        #expect(SHT3x.Command.heaterOn.rawValue == 0x306D)            // Table 16
        #expect(SHT3x.Command.heaterOff.rawValue == 0x3066)
        #expect(SHT3x.Command.readStatus.rawValue == 0xF32D)          // Table 17
        #expect(SHT3x.Command.clearStatus.rawValue == 0x3041)         // Table 19
        #expect(SHT3x.Command.readStatus.bytes == [0xF3, 0x2D])
    }

    @Test func waitsAreTheDatasheetMaxima() {
        #expect(SHT3x.maximumMeasurementDuration(.high) == .microseconds(15_500))
        #expect(SHT3x.maximumMeasurementDuration(.medium) == .microseconds(6_500))
        #expect(SHT3x.maximumMeasurementDuration(.low) == .microseconds(4_500))
        #expect(SHT3x.maximumSoftResetDuration == .microseconds(1_500))
        #expect(SHT3x.MeasurementRate.halfPerSecond.period == .seconds(2))
        #expect(SHT3x.Mode.acceleratedResponse.period == .milliseconds(250))
    }

    @Test func statusBitsFollowTable18() {
        let status = SHT3x.Status(rawValue: 0xA012)
        #expect(status.contains(.alertPending))
        #expect(status.contains(.heaterOn))
        #expect(status.contains(.resetDetected))
        #expect(status.contains(.commandFailed))
        #expect(!status.contains(.writeChecksumFailed))
        #expect(!status.contains(.humidityTrackingAlert))
    }

    // MARK: - Driver on the simulated bus

    @Test func initialisationSequence() async throws {
        let chip = SimulatedSHT3x()
        let bus = makeBus(chip)
        _ = try await SHT3x(device: bus.device(address))
        // Break, soft reset, read status (2 bytes + CRC), clear status.
        #expect(bus.trace == [write([0x30, 0x93]), write([0x30, 0xA2]), write([0xF3, 0x2D]), read(3), write([0x30, 0x41])])
        #expect(chip.statusRegister & 0x8010 == 0)          // alert and reset flags cleared
    }

    @Test func singleShotMeasurement() async throws {
        let chip = SimulatedSHT3x()
        chip.setEnvironment(temperature: try .celsius(23.4), humidity: .percent(61.2))
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address))
        bus.clearTrace()
        let reading = try await sht.read()
        #expect(abs(reading.value.temperature.celsius - 23.4) < 0.002)
        #expect(abs(reading.value.humidity.percent - 61.2) < 0.002)
        #expect(bus.trace == [write([0x24, 0x00]), read(6)])
    }

    @Test func repeatabilityChoosesTheCommand() async throws {
        let chip = SimulatedSHT3x()
        chip.setRaw(temperature: 0x6666, humidity: 0x8000)
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address), configuration: .init(repeatability: .low))
        bus.clearTrace()
        let low = try await sht.read()
        try await sht.setRepeatability(.medium)
        let medium = try await sht.read()
        #expect(bus.trace == [write([0x24, 0x16]), read(6), write([0x24, 0x0B]), read(6)])
        #expect(abs(low.value.temperature.celsius - 25) < 1e-9)
        #expect(abs(medium.value.humidity.percent - 50.00076) < 1e-5)
    }

    @Test func periodicModeFetchesFreshResults() async throws {
        let chip = SimulatedSHT3x()
        chip.setEnvironment(temperature: try .celsius(20), humidity: .percent(30))
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address), configuration: .init(mode: .periodic(.tenPerSecond)))
        #expect(bus.trace.last == write([0x27, 0x37]))
        #expect(chip.isPeriodic)
        let first = try await sht.read()
        chip.setEnvironment(temperature: try .celsius(30), humidity: .percent(70))
        let second = try await sht.read()     // must wait for the next measurement, not repeat the first
        #expect(abs(first.value.temperature.celsius - 20) < 0.002)
        #expect(abs(second.value.temperature.celsius - 30) < 0.002)
        #expect(abs(second.value.humidity.percent - 70) < 0.002)
        let fetches = bus.trace.filter { $0 == write([0xE0, 0x00]) }.count
        #expect(fetches >= 2)
    }

    @Test func artAndBackToSingleShot() async throws {
        let chip = SimulatedSHT3x()
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address))
        bus.clearTrace()
        try await sht.setMode(.acceleratedResponse)
        #expect(bus.trace == [write([0x2B, 0x32])])
        #expect(chip.isPeriodic)
        let reading = try await sht.read()
        #expect(abs(reading.value.temperature.celsius - 25) < 0.002)
        bus.clearTrace()
        try await sht.setMode(.singleShot)
        #expect(bus.trace == [write([0x30, 0x93])])
        #expect(!chip.isPeriodic)
    }

    @Test func heaterOnAndOff() async throws {
        let chip = SimulatedSHT3x()
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address))
        bus.clearTrace()
        try await sht.setHeater(true)
        #expect(chip.isHeaterOn)
        #expect(try await sht.readStatus().contains(.heaterOn))
        try await sht.setHeater(false)
        #expect(!chip.isHeaterOn)
        #expect(try await !sht.readStatus().contains(.heaterOn))
        #expect(bus.trace == [write([0x30, 0x6D]), write([0xF3, 0x2D]), read(3), write([0x30, 0x66]), write([0xF3, 0x2D]), read(3)])
    }

    @Test func heaterInPeriodicModePausesAcquisition() async throws {
        let chip = SimulatedSHT3x()
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address), configuration: .init(repeatability: .medium, mode: .periodic(.onePerSecond)))
        bus.clearTrace()
        try await sht.setHeater(true)
        // Break, heater on, restart 1 mps medium (section 4.8's recommendation).
        #expect(bus.trace == [write([0x30, 0x93]), write([0x30, 0x6D]), write([0x21, 0x26])])
        #expect(chip.isHeaterOn)
        #expect(chip.isPeriodic)
        #expect(chip.statusRegister & 0x0002 == 0)          // no command was rejected
    }

    @Test func softResetSequenceAndStatusFlags() async throws {
        let chip = SimulatedSHT3x()
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address), configuration: .init(mode: .periodic(.twoPerSecond)))
        try await sht.setHeater(true)
        #expect(try await !sht.readStatus().contains(.resetDetected))
        bus.clearTrace()
        try await sht.softReset()
        #expect(bus.trace == [write([0x30, 0x93]), write([0x30, 0xA2]), write([0x22, 0x36])])
        let status = try await sht.readStatus()
        #expect(status.contains(.resetDetected))
        #expect(!status.contains(.heaterOn))                // reset turns the heater off
        try await sht.clearStatus()
        #expect(try await !sht.readStatus().contains(.resetDetected))
    }

    @Test func badCRCThrowsAndNeverReturnsAStaleValue() async throws {
        let chip = SimulatedSHT3x()
        chip.setEnvironment(temperature: try .celsius(10), humidity: .percent(20))
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address))
        let good = try await sht.read()
        #expect(abs(good.value.temperature.celsius - 10) < 0.002)

        chip.setEnvironment(temperature: try .celsius(35), humidity: .percent(80))
        for fault in [SensirionChecksumFault.firstWord, .secondWord] {
            chip.injectChecksumFault(fault)
            await #expect { _ = try await sht.read() } throws: { error in
                (error as? SensorError)?.code == .checksumMismatch
            }
        }
        let fresh = try await sht.read()
        #expect(abs(fresh.value.temperature.celsius - 35) < 0.002)
        #expect(abs(fresh.value.humidity.percent - 80) < 0.002)
    }

    @Test func badCRCOnTheStatusWordThrows() async throws {
        let chip = SimulatedSHT3x()
        let sht = try await SHT3x(device: makeBus(chip).device(address))
        chip.injectChecksumFault(.firstWord)
        await #expect { _ = try await sht.readStatus() } throws: { error in
            (error as? SensorError)?.code == .checksumMismatch && (error as? SensorError)?.message.contains("status") == true
        }
    }

    @Test func badCRCDuringInitialisationThrows() async throws {
        let chip = SimulatedSHT3x()
        chip.injectChecksumFault(.firstWord)
        await #expect { _ = try await SHT3x(device: makeBus(chip).device(address)) } throws: { error in
            (error as? SensorError)?.code == .checksumMismatch
        }
    }

    @Test func aStalledChipTimesOut() async throws {
        let chip = SimulatedSHT3x()
        let sht = try await SHT3x(device: makeBus(chip).device(address), configuration: .init(repeatability: .low))
        chip.setStalled(true)
        await #expect { _ = try await sht.read() } throws: { error in
            (error as? SensorError)?.code == .timeout
        }
        try await sht.setMode(.periodic(.tenPerSecond))
        await #expect { _ = try await sht.read() } throws: { error in
            (error as? SensorError)?.code == .timeout
        }
    }

    @Test func noDeviceIsANoAcknowledge() async throws {
        let bus = SimulatedI2CBus()
        await #expect { _ = try await SHT3x(device: bus.device(0x45)) } throws: { error in
            (error as? HardwareError)?.code == .noAcknowledge
        }
    }

    @Test func smbusOnlyAdaptersAreRejectedClearly() async throws {
        let bus = makeBus(SimulatedSHT3x(), functionality: .smbusOnly)
        await #expect { _ = try await SHT3x(device: bus.device(address)) } throws: { error in
            guard let error = error as? SensorError else { return false }
            return error.code == .unsupported && error.message.contains("I2C-capable") && error.message.contains("SMBus-only")
        }
        #expect(bus.trace.isEmpty)                          // nothing was sent
        // The underlying reason: a 6-byte read without a register address is not an SMBus call.
        #expect { _ = try bus.device(address).read(count: 6) } throws: { error in
            (error as? HardwareError)?.code == .unsupported
        }
    }

    @Test func concurrentReadsDoNotInterleave() async throws {
        let chip = SimulatedSHT3x()
        chip.setRaw(temperature: 0x6666, humidity: 0x6666)
        let bus = makeBus(chip)
        let sht = try await SHT3x(device: bus.device(address), configuration: .init(repeatability: .low))
        bus.clearTrace()
        async let a = sht.read()
        async let b = sht.read()
        async let c = sht.read()
        let readings = try await [a, b, c]
        #expect(readings.allSatisfy { abs($0.value.temperature.celsius - 25) < 1e-9 && abs($0.value.humidity.percent - 40) < 1e-9 })
        #expect(bus.trace == Array(repeating: [write([0x24, 0x16]), read(6)], count: 3).flatMap { $0 })
    }

    // MARK: - The simulated chip itself

    @Test func simulatedChipNacksAnEarlyRead() throws {
        let chip = SimulatedSHT3x()
        try chip.write([0x24, 0x00])
        #expect { _ = try chip.read(count: 6) } throws: { error in
            (error as? HardwareError)?.code == .noAcknowledge
        }
        try chip.write([0x2C, 0x06])                        // clock stretching: answered at once
        let reply = try chip.read(count: 6)
        #expect(reply.count == 6)
        #expect(SensirionCRC.checksum(reply[0...1]) == reply[2])
        #expect(SensirionCRC.checksum(reply[3...4]) == reply[5])
    }
}
