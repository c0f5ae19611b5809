import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

/// The SHT4x driver against the "SHT4x" datasheet (Sensirion) and the simulated chip.
@Suite struct SHT4xTests {
    let address: I2CAddress = 0x44

    func makeBus(_ chip: SimulatedSHT4x, functionality: I2CFunctionality = .fullI2C) -> SimulatedI2CBus {
        SimulatedI2CBus(functionality: functionality, devices: [address: chip])
    }

    func write(_ byte: UInt8) -> I2CTraceEntry { .transfer(address: 0x44, messages: [.write([byte])]) }
    let read6 = I2CTraceEntry.transfer(address: 0x44, messages: [.read(count: 6)])

    // MARK: - Datasheet checks

    @Test func usesTheSharedSensirionCRC() {
        // Section "Checksum Calculation": the same CRC-8 as the SHT3x, CRC(0xBEEF) = 0x92.
        #expect(SensirionCRC.checksum(word: 0xBEEF) == 0x92)
    }

    @Test func conversionFollowsTheDatasheetFormulas() throws {
        // Section "Conversion of Signal Output": T = -45 + 175 · S_T / 65535; RH = -6 + 125 · S_RH / 65535.
        #expect(abs(try SHT4x.temperature(raw: 0).celsius - -45) < 1e-9)
        #expect(abs(try SHT4x.temperature(raw: 0xFFFF).celsius - 130) < 1e-9)
        #expect(abs(try SHT4x.temperature(raw: 0x6666).celsius - 25) < 1e-9)
        #expect(abs(SHT4x.uncroppedHumidity(raw: 0).percent - -6) < 1e-9)
        #expect(abs(SHT4x.uncroppedHumidity(raw: 0xFFFF).percent - 119) < 1e-9)
        #expect(abs(SHT4x.humidity(raw: 0x6666).percent - 44) < 1e-9)     // -6 + 125 · 0.4
        #expect(abs(SHT4x.humidity(raw: 0x8000).percent - 56.50095) < 1e-5)
    }

    @Test func humidityIsCroppedToZeroToHundred() {
        // The datasheet says to crop RH to 0…100 %RH: 3145 → -0.0013 %RH, 3146 → +0.0006 %RH, 55573 → 99.9987, 55574 → 100.0006.
        #expect(SHT4x.humidity(raw: 0).percent == 0)
        #expect(SHT4x.humidity(raw: 3145).percent == 0)
        #expect(SHT4x.humidity(raw: 3146).percent > 0)
        #expect(SHT4x.humidity(raw: 55573).percent < 100)
        #expect(SHT4x.humidity(raw: 55574).percent == 100)
        #expect(SHT4x.humidity(raw: 0xFFFF).percent == 100)
    }

    @Test func commandCodesMatchTheDatasheet() {
        #expect(SHT4x.Command.measure(.high).rawValue == 0xFD)
        #expect(SHT4x.Command.measure(.medium).rawValue == 0xF6)
        #expect(SHT4x.Command.measure(.low).rawValue == 0xE0)
        #expect(SHT4x.Command.readSerialNumber.rawValue == 0x89)
        #expect(SHT4x.Command.softReset.rawValue == 0x94)
        #expect(SHT4x.Command.heat(.milliwatts200, .oneSecond).rawValue == 0x39)
        #expect(SHT4x.Command.heat(.milliwatts200, .tenthOfSecond).rawValue == 0x32)
        #expect(SHT4x.Command.heat(.milliwatts110, .oneSecond).rawValue == 0x2F)
        #expect(SHT4x.Command.heat(.milliwatts110, .tenthOfSecond).rawValue == 0x24)
        #expect(SHT4x.Command.heat(.milliwatts20, .oneSecond).rawValue == 0x1E)
        #expect(SHT4x.Command.heat(.milliwatts20, .tenthOfSecond).rawValue == 0x15)
    }

    @Test func waitsAreTheDatasheetMaxima() {
        #expect(SHT4x.maximumMeasurementDuration(.high) == .microseconds(8_300))
        #expect(SHT4x.maximumMeasurementDuration(.medium) == .microseconds(4_500))
        #expect(SHT4x.maximumMeasurementDuration(.low) == .microseconds(1_600))
        #expect(SHT4x.maximumHeaterDuration(.oneSecond) == .microseconds(1_108_300))
        #expect(SHT4x.maximumHeaterDuration(.tenthOfSecond) == .microseconds(118_300))
        #expect(SHT4x.maximumSoftResetDuration == .milliseconds(1))
    }

    // MARK: - Driver on the simulated bus

    @Test func initialisationResetsAndReadsTheSerialNumber() async throws {
        let chip = SimulatedSHT4x(serialNumber: 0x1234_ABCD)
        let bus = makeBus(chip)
        let sht = try await SHT4x(device: bus.device(address))
        #expect(sht.serialNumber == 0x1234_ABCD)
        #expect(bus.trace == [write(0x94), write(0x89), read6])
        #expect(try await sht.readSerialNumber() == 0x1234_ABCD)
    }

    @Test func measuresAtEachPrecision() async throws {
        let chip = SimulatedSHT4x()
        chip.setEnvironment(temperature: try .celsius(-12.5), humidity: .percent(87.5))
        let bus = makeBus(chip)
        let sht = try await SHT4x(device: bus.device(address))
        bus.clearTrace()
        for precision in SHT4x.Precision.allCases {
            await sht.setPrecision(precision)
            let reading = try await sht.read()
            #expect(abs(reading.value.temperature.celsius - -12.5) < 0.002)
            #expect(abs(reading.value.humidity.percent - 87.5) < 0.002)
        }
        #expect(bus.trace == [write(0xFD), read6, write(0xF6), read6, write(0xE0), read6])
    }

    @Test func croppedHumidityThroughTheDriver() async throws {
        let chip = SimulatedSHT4x()
        chip.setRaw(temperature: 0x6666, humidity: 0xFFFF)
        let sht = try await SHT4x(device: makeBus(chip).device(address), configuration: .init(precision: .low))
        let wet = try await sht.read()
        #expect(wet.value.humidity.percent == 100)
        chip.setRaw(temperature: 0x6666, humidity: 0)
        let dry = try await sht.read()
        #expect(dry.value.humidity.percent == 0)
        #expect(abs(dry.value.temperature.celsius - 25) < 1e-9)
    }

    @Test func heaterPulseReturnsTheHeatedMeasurement() async throws {
        let chip = SimulatedSHT4x()
        chip.setRaw(temperature: 0x8000, humidity: 0x4000)
        let bus = makeBus(chip)
        let sht = try await SHT4x(device: bus.device(address))
        bus.clearTrace()
        let reading = try await sht.readHeated(power: .milliwatts20, duration: .tenthOfSecond)
        #expect(bus.trace == [write(0x15), read6])
        #expect(chip.heaterPulses == [0x15])
        #expect(abs(reading.value.temperature.celsius - 42.50133) < 1e-5)
        #expect(abs(reading.value.humidity.percent - 25.25048) < 1e-5)     // -6 + 125 · 16384/65535
    }

    @Test func softResetSequence() async throws {
        let chip = SimulatedSHT4x()
        let bus = makeBus(chip)
        let sht = try await SHT4x(device: bus.device(address))
        bus.clearTrace()
        try await sht.softReset()
        let reading = try await sht.read()
        #expect(bus.trace == [write(0x94), write(0xFD), read6])
        #expect(abs(reading.value.temperature.celsius - 25) < 0.002)
    }

    @Test func badCRCThrowsAndNeverReturnsAStaleValue() async throws {
        let chip = SimulatedSHT4x()
        chip.setEnvironment(temperature: try .celsius(15), humidity: .percent(25))
        let sht = try await SHT4x(device: makeBus(chip).device(address), configuration: .init(precision: .low))
        let good = try await sht.read()
        #expect(abs(good.value.temperature.celsius - 15) < 0.002)
        chip.setEnvironment(temperature: try .celsius(33), humidity: .percent(66))
        for fault in [SensirionChecksumFault.firstWord, .secondWord] {
            chip.injectChecksumFault(fault)
            await #expect { _ = try await sht.read() } throws: { error in
                (error as? SensorError)?.code == .checksumMismatch
            }
        }
        let fresh = try await sht.read()
        #expect(abs(fresh.value.temperature.celsius - 33) < 0.002)
        #expect(abs(fresh.value.humidity.percent - 66) < 0.002)
    }

    @Test func badSerialNumberCRCFailsInitialisation() async throws {
        let chip = SimulatedSHT4x()
        chip.injectChecksumFault(.secondWord)
        await #expect { _ = try await SHT4x(device: makeBus(chip).device(address)) } throws: { error in
            guard let error = error as? SensorError else { return false }
            return error.code == .checksumMismatch && error.message.contains("serial number low")
        }
    }

    @Test func aStalledChipTimesOut() async throws {
        let chip = SimulatedSHT4x()
        let sht = try await SHT4x(device: makeBus(chip).device(address), configuration: .init(precision: .low))
        chip.setStalled(true)
        await #expect { _ = try await sht.read() } throws: { error in
            (error as? SensorError)?.code == .timeout
        }
    }

    @Test func noDeviceIsANoAcknowledge() async throws {
        await #expect { _ = try await SHT4x(device: SimulatedI2CBus().device(0x46)) } throws: { error in
            (error as? HardwareError)?.code == .noAcknowledge
        }
    }

    @Test func smbusOnlyAdaptersAreRejectedClearly() async throws {
        let bus = makeBus(SimulatedSHT4x(), functionality: .smbusOnly)
        await #expect { _ = try await SHT4x(device: bus.device(address)) } throws: { error in
            guard let error = error as? SensorError else { return false }
            return error.code == .unsupported && error.message.contains("I2C-capable")
        }
        #expect(bus.trace.isEmpty)
    }

    @Test func simulatedChipNacksUntilTheResultIsReady() throws {
        let chip = SimulatedSHT4x()
        #expect { _ = try chip.read(count: 6) } throws: { ($0 as? HardwareError)?.code == .noAcknowledge }
        try chip.write([0x39])                                  // 1 s heater pulse: not ready yet
        #expect { _ = try chip.read(count: 6) } throws: { ($0 as? HardwareError)?.code == .noAcknowledge }
        try chip.write([0x89])
        let serial = try chip.read(count: 6)
        #expect(serial == [0x0B, 0xAD, SensirionCRC.checksum(word: 0x0BAD), 0xCA, 0xFE, SensirionCRC.checksum(word: 0xCAFE)])
    }
}
