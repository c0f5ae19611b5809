import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

// Datasheet: NXP PCA9685 product data sheet, Rev. 4, 16 April 2015.

// MARK: - Helpers

private let pca9685Address: I2CAddress = 0x40

private func pca9685Bus(_ functionality: I2CFunctionality = .fullI2C) -> (SimulatedI2CBus, SimulatedPCA9685) {
    let chip = SimulatedPCA9685()
    let bus = SimulatedI2CBus(functionality: functionality, devices: [pca9685Address: chip])
    return (bus, chip)
}

private func readByte(_ register: UInt8) -> I2CTraceEntry {
    .smbus(address: 0x40, operation: "read-byte-data", command: register, bytes: [])
}

private func writeByte(_ register: UInt8, _ value: UInt8) -> I2CTraceEntry {
    .smbus(address: 0x40, operation: "write-byte-data", command: register, bytes: [value])
}

// MARK: - Frequency and PRE_SCALE (7.3.5)

@Suite("PCA9685 PRE_SCALE math")
struct PCA9685PrescaleTests {
    @Test("200 Hz at 25 MHz gives PRE_SCALE 30 = 0x1E (7.3.5, Equation 2)")
    func datasheetExample() throws {
        #expect(try PCA9685.prescale(for: .hertz(200)) == 0x1E)
    }

    @Test("50 Hz for servos gives round(122.07) − 1 = 121")
    func servoFrequency() throws {
        #expect(try PCA9685.prescale(for: .hertz(50)) == 121)
        #expect(abs(PCA9685.frequency(prescale: 121).hertz - 50.0288) < 0.0001)
    }

    @Test("PRE_SCALE 3…255 spans about 24…1526 Hz (section 1 and 7.3.5)")
    func range() throws {
        #expect(abs(PCA9685.frequency(prescale: 3).hertz - 1525.88) < 0.01)
        #expect(abs(PCA9685.frequency(prescale: 255).hertz - 23.84) < 0.01)
        #expect(abs(PCA9685.frequency(prescale: 0x1E).hertz - 196.9) < 0.1)
        #expect(try PCA9685.prescale(for: .hertz(1526)) == 3)
        #expect(try PCA9685.prescale(for: .hertz(24)) == 253)
    }

    @Test("frequencies outside the PRE_SCALE range are invalid settings",
          arguments: [2000.0, 20, 0, -50, .nan, .infinity])
    func outOfRange(hertz: Double) {
        let error = #expect(throws: SensorError.self) { try PCA9685.prescale(for: .hertz(hertz)) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("3…255") == true)
    }

    @Test("a calibrated oscillator moves the prescale")
    func calibratedOscillator() throws {
        // 26.5 MHz / (4096 × 50 Hz) = 129.4 → 129 − 1 = 128
        #expect(try PCA9685.prescale(for: .hertz(50), oscillator: .megahertz(26.5)) == 128)
    }
}

// MARK: - LEDn_ON / LEDn_OFF (7.3.3)

@Suite("PCA9685 channel register math")
struct PCA9685ChannelMathTests {
    @Test("Example 1 of 7.3.3: delay 10 %, duty 20 % → ON 0x199, OFF 0x4CC")
    func example1() throws {
        let registers = try PCA9685.registers(dutyCycle: .percent(20), delay: .percent(10))
        #expect(registers.on == 409)
        #expect(registers.off == 1228)
        // LED0_ON_H = 1h, LED0_ON_L = 99h, LED0_OFF_H = 4h, LED0_OFF_L = CCh
        #expect(registers.bytes == [0x99, 0x01, 0xCC, 0x04])
    }

    @Test("Example 2 of 7.3.3: delay 90 %, duty 90 % → ON 0xE65, OFF 0xCCB (wraps into the next period)")
    func example2() throws {
        let registers = try PCA9685.registers(dutyCycle: .percent(90), delay: .percent(90))
        #expect(registers.on == 3685)
        #expect(registers.off == 3275)
        // LED4_ON_H = Eh, LED4_ON_L = 65h, LED4_OFF_H = Ch, LED4_OFF_L = CBh
        #expect(registers.bytes == [0x65, 0x0E, 0xCB, 0x0C])
        #expect(abs(registers.dutyCycle.fraction - 3686.0 / 4096) < 1e-12)
    }

    @Test("Figure 9: ON 511 < OFF 3071 and ON 2047 > OFF 767 give 62.5 % and 68.75 %")
    func figure9() throws {
        #expect(try PCA9685.ChannelRegisters(on: 511, off: 3071).dutyCycle.fraction == 0.625)
        #expect(try PCA9685.ChannelRegisters(on: 2047, off: 767).dutyCycle.fraction == 0.6875)
    }

    @Test("0 % and 100 % use the full-off and full-on bits (bit 4 of OFF_H / ON_H)")
    func fullBits() throws {
        #expect(try PCA9685.registers(dutyCycle: .percent(0)).bytes == [0x00, 0x00, 0x00, 0x10])
        #expect(try PCA9685.registers(dutyCycle: .percent(100)).bytes == [0x00, 0x10, 0x00, 0x00])
        #expect(try PCA9685.registers(for: .off, frequency: .hertz(200)) == .alwaysOff)
        #expect(try PCA9685.registers(for: .on, frequency: .hertz(200)) == .alwaysOn)
        #expect(PCA9685.ChannelRegisters.alwaysOff.dutyCycle.fraction == 0)
        #expect(PCA9685.ChannelRegisters.alwaysOn.dutyCycle.fraction == 1)
    }

    @Test("a duty cycle without delay starts at count 0")
    func noDelay() throws {
        let registers = try PCA9685.registers(dutyCycle: .percent(25))
        #expect(registers.on == 0 && registers.off == 1024)
    }

    @Test("register bytes decode back, ignoring the reserved bits 7…5")
    func decode() throws {
        let decoded = PCA9685.ChannelRegisters(bytes: [0x65, 0xEE, 0xCB, 0xEC])
        #expect(decoded == (try PCA9685.ChannelRegisters(on: 3685, off: 3275)))
        #expect(PCA9685.ChannelRegisters(bytes: [0x00, 0x00, 0x00, 0x10]) == .alwaysOff)
        #expect(PCA9685.ChannelRegisters(bytes: [0x00, 0x00]) == nil)
    }

    @Test("invalid duty cycles, delays and counts are invalid settings")
    func invalid() {
        let cases: [PCA9685.Output] = [
            .dutyCycle(.fraction(1.5)), .dutyCycle(.fraction(-0.1)), .dutyCycle(.fraction(.nan)),
            .dutyCycle(.percent(50), delay: .percent(100)), .dutyCycle(.percent(50), delay: .fraction(-0.1)),
            .counts(on: 4096, off: 0), .counts(on: -1, off: 10), .counts(on: 100, off: 100),
            .pulseWidth(.milliseconds(6)), .pulseWidth(.microseconds(-1)),
        ]
        for output in cases {
            let error = #expect(throws: SensorError.self) { try PCA9685.registers(for: output, frequency: .hertz(200)) }
            #expect(error?.code == .invalidSetting, "\(output)")
        }
    }

    @Test("a pulse width is counted at the frequency in use")
    func pulseWidth() throws {
        let frequency = PCA9685.frequency(prescale: 121)  // 50.03 Hz
        // 1.5 ms × 50.0288 Hz × 4096 = 307.4
        #expect(try PCA9685.counts(pulseWidth: .microseconds(1500), frequency: frequency) == 307)
        #expect(try PCA9685.registers(pulseWidth: .microseconds(1500), frequency: frequency).bytes == [0x00, 0x00, 0x33, 0x01])
        #expect(try PCA9685.registers(pulseWidth: .zero, frequency: frequency) == .alwaysOff)
    }
}

// MARK: - Servo helper

@Suite("PCA9685 servo math")
struct PCA9685ServoTests {
    @Test("the standard calibration maps 0…180° to 500…2500 µs", arguments: [
        (0.0, 500), (45, 1000), (90, 1500), (135, 2000), (180, 2500),
    ])
    func standard(degrees: Double, microseconds: Int) throws {
        #expect(try PCA9685.ServoCalibration.standard.pulseWidth(forDegrees: degrees) == .microseconds(microseconds))
    }

    @Test("at 50 Hz (PRE_SCALE 121) 0°, 90° and 180° become 102, 307 and 512 counts")
    func counts() throws {
        let frequency = PCA9685.frequency(prescale: 121)
        let calibration = PCA9685.ServoCalibration.standard
        let counts = try [0.0, 90, 180].map {
            try PCA9685.counts(pulseWidth: try calibration.pulseWidth(forDegrees: $0), frequency: frequency)
        }
        #expect(counts == [102, 307, 512])
    }

    @Test("a custom and a reversed calibration")
    func custom() throws {
        let narrow = try PCA9685.ServoCalibration(minimumPulse: .microseconds(1000), maximumPulse: .microseconds(2000), angles: -90...90)
        #expect(try narrow.pulseWidth(forDegrees: 0) == .microseconds(1500))
        #expect(try narrow.pulseWidth(forDegrees: -90) == .microseconds(1000))
        let reversed = try PCA9685.ServoCalibration(minimumPulse: .microseconds(2500), maximumPulse: .microseconds(500))
        #expect(try reversed.pulseWidth(forDegrees: 180) == .microseconds(500))
    }

    @Test("angles outside the calibration are invalid settings", arguments: [-0.5, 180.5, .nan, .infinity])
    func invalidAngle(degrees: Double) {
        let error = #expect(throws: SensorError.self) { try PCA9685.ServoCalibration.standard.pulseWidth(forDegrees: degrees) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("0.0…180.0°") == true)
    }

    @Test("impossible calibrations are invalid settings")
    func invalidCalibration() {
        #expect(throws: SensorError.self) { try PCA9685.ServoCalibration(minimumPulse: .microseconds(1500), maximumPulse: .microseconds(1500)) }
        #expect(throws: SensorError.self) { try PCA9685.ServoCalibration(minimumPulse: .zero) }
        #expect(throws: SensorError.self) { try PCA9685.ServoCalibration(maximumPulse: .seconds(2)) }
        #expect(throws: SensorError.self) { try PCA9685.ServoCalibration(angles: 10...10) }
        #expect(throws: SensorError.self) { try PCA9685.ServoCalibration(angles: 0...Double.infinity) }
    }

    @Test("a 2.5 ms pulse does not fit the 1 ms period of 1 kHz")
    func pulseLongerThanPeriod() {
        let error = #expect(throws: SensorError.self) {
            try PCA9685.counts(pulseWidth: .microseconds(2500), frequency: .hertz(1000))
        }
        #expect(error?.code == .invalidSetting)
    }
}

// MARK: - Driver on the simulated chip

@Suite("PCA9685 driver")
struct PCA9685DriverTests {
    @Test("start from power-on: all off, MODE2, then SLEEP → PRE_SCALE → check RESTART → wake (7.3.1.1, 7.3.5)")
    func startSequence() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        #expect(bus.trace == [
            readByte(0x00), readByte(0x01), readByte(0xFE),   // MODE1, MODE2, PRE_SCALE: plausibility
            writeByte(0xFD, 0x10),                             // ALL_LED_OFF_H: full off
            writeByte(0x01, 0x04),                             // MODE2: totem pole
            writeByte(0x00, 0x31),                             // MODE1: AI | SLEEP | ALLCALL
            writeByte(0xFE, 0x1E),                             // PRE_SCALE: 200 Hz
            readByte(0x00),                                    // RESTART? (no: nothing was running)
            writeByte(0x00, 0x21),                             // MODE1: AI | ALLCALL, awake
        ])
        #expect(chip.mode1 == 0x21)
        #expect(chip.prescale == 0x1E)
        #expect(chip.isRunning)
        #expect(await pwm.prescale == 0x1E)
        #expect(abs(await pwm.frequency.hertz - 196.9) < 0.1)
    }

    @Test("changing the frequency with a channel running: SLEEP sets RESTART, which is written after 500 µs")
    func frequencyChangeRestarts() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        try await pwm.apply(.set(channel: 3, .dutyCycle(.percent(50))))
        bus.clearTrace()

        try await pwm.setFrequency(.hertz(50))

        #expect(bus.trace == [
            writeByte(0x00, 0x31),          // SLEEP (the chip sets RESTART at the end of the period)
            writeByte(0xFE, 121),           // PRE_SCALE for 50 Hz
            readByte(0x00),                 // reads 0xB1: RESTART is 1
            writeByte(0x00, 0x21),          // clear SLEEP, then wait 500 µs
            writeByte(0x00, 0xA1),          // RESTART: the channels run again
        ])
        #expect(chip.prescale == 121)
        #expect(chip.mode1 == 0x21)
        #expect(chip.isRunning)
        #expect(chip.earlyRestarts == 0)
        #expect(chip.output(channel: 3) == .pwm(on: 0, off: 2048))
        #expect(await pwm.prescale == 121)
    }

    @Test("changing the frequency with every output off needs no RESTART")
    func frequencyChangeWithoutRestart() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        bus.clearTrace()
        try await pwm.setFrequency(.hertz(1000))
        #expect(bus.trace == [writeByte(0x00, 0x31), writeByte(0xFE, 5), readByte(0x00), writeByte(0x00, 0x21)])
        #expect(chip.prescale == 5 && chip.isRunning)
    }

    @Test("an invalid frequency is refused before any transfer")
    func invalidFrequency() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        bus.clearTrace()
        let error = await #expect(throws: SensorError.self) { try await pwm.setFrequency(.hertz(5000)) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.chip == "PCA9685 at 0x40 on simulated i2c-1")
        #expect(bus.trace.isEmpty)
        #expect(chip.prescale == 0x1E)
    }

    @Test("one channel is one four-byte write with auto-increment: datasheet example 2 on LED4")
    func channelWrite() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        bus.clearTrace()
        try await pwm.apply(.set(channel: 4, .dutyCycle(.percent(90), delay: .percent(90))))
        // LED4_ON_L is 0x16
        #expect(bus.trace == [.transfer(address: 0x40, messages: [.write([0x16, 0x65, 0x0E, 0xCB, 0x0C])])])
        #expect(chip.output(channel: 4) == .pwm(on: 3685, off: 3275))
        #expect(chip.output(channel: 5) == .off)
        #expect(try await pwm.channelRegisters(4) == (try PCA9685.ChannelRegisters(on: 3685, off: 3275)))
    }

    @Test("example 1 on LED0, full on and raw counts")
    func otherOutputs() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        try await pwm.apply(.set(channel: 0, .dutyCycle(.percent(20), delay: .percent(10))))
        try await pwm.apply(.set(channel: 1, .on))
        try await pwm.apply(.set(channel: 15, .counts(on: 2047, off: 767)))
        #expect(chip[0x06] == 0x99 && chip[0x07] == 0x01 && chip[0x08] == 0xCC && chip[0x09] == 0x04)
        #expect(chip.output(channel: 1) == .on)
        #expect(chip.output(channel: 15) == .pwm(on: 2047, off: 767))
    }

    @Test("all channels in one write to ALL_LED_ON_L…ALL_LED_OFF_H")
    func allChannels() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        bus.clearTrace()
        try await pwm.apply(.setAll(.dutyCycle(.percent(25))))
        #expect(bus.trace == [.transfer(address: 0x40, messages: [.write([0xFA, 0x00, 0x00, 0x00, 0x04])])])
        for channel in 0..<16 { #expect(chip.output(channel: channel) == .pwm(on: 0, off: 1024)) }
    }

    @Test("a servo at 90° on a 50 Hz chip, and a channel with its own calibration")
    func servo() async throws {
        let (bus, chip) = pca9685Bus()
        var configuration = PCA9685.Configuration.servos
        configuration.servoCalibrations[2] = try PCA9685.ServoCalibration(minimumPulse: .microseconds(1000), maximumPulse: .microseconds(2000))
        let pwm = try await PCA9685(device: bus.device(pca9685Address), configuration: configuration)
        #expect(chip.prescale == 121)
        try await pwm.apply(.servo(channel: 0, degrees: 90))
        try await pwm.apply(.servo(channel: 1, degrees: 180))
        try await pwm.apply(.servo(channel: 2, degrees: 180))
        #expect(chip.output(channel: 0) == .pwm(on: 0, off: 307))
        #expect(chip.output(channel: 1) == .pwm(on: 0, off: 512))
        #expect(chip.output(channel: 2) == .pwm(on: 0, off: 410))  // 2 ms × 50.03 Hz × 4096 = 409.8
        try await pwm.apply(.set(channel: 3, .pulseWidth(.microseconds(1500))))
        #expect(chip.output(channel: 3) == .pwm(on: 0, off: 307))
    }

    @Test("invalid channels and angles throw invalidSetting and touch nothing")
    func invalidCommands() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address), configuration: .servos)
        try await pwm.apply(.set(channel: 0, .dutyCycle(.percent(50))))
        bus.clearTrace()
        let commands: [PCA9685.Command] = [
            .set(channel: 16, .on), .set(channel: -1, .off), .servo(channel: 0, degrees: 181),
            .servo(channel: 99, degrees: 90), .set(channel: 0, .dutyCycle(.percent(120))),
        ]
        for command in commands {
            let error = await #expect(throws: SensorError.self) { try await pwm.apply(command) }
            #expect(error?.code == .invalidSetting, "\(command)")
        }
        #expect(bus.trace.isEmpty)
        #expect(chip.output(channel: 0) == .pwm(on: 0, off: 2048))
    }

    @Test("invalid configurations are refused before any transfer")
    func invalidConfiguration() async throws {
        let (bus, _) = pca9685Bus()
        let configurations = [
            PCA9685.Configuration(frequency: .hertz(2000)),
            PCA9685.Configuration(oscillator: .megahertz(80)),
            PCA9685.Configuration(servoCalibrations: [16: .standard]),
        ]
        for configuration in configurations {
            let error = await #expect(throws: SensorError.self) {
                _ = try await PCA9685(device: bus.device(pca9685Address), configuration: configuration)
            }
            #expect(error?.code == .invalidSetting)
        }
        #expect(bus.trace.isEmpty)
    }

    @Test("safe state: every output full off with one ALL_LED_OFF_H write, idempotent, even when cancelled")
    func safeState() async throws {
        let (bus, chip) = pca9685Bus()
        let pwm = try await PCA9685(device: bus.device(pca9685Address))
        try await pwm.apply(.setAll(.on))
        try await pwm.apply(.set(channel: 7, .dutyCycle(.percent(30))))
        bus.clearTrace()

        try await pwm.enterSafeState()
        #expect(bus.trace == [writeByte(0xFD, 0x10)])
        for channel in 0..<16 { #expect(chip.output(channel: channel) == .off) }

        let task = Task { try await pwm.enterSafeState() }
        task.cancel()
        try await task.value
        for channel in 0..<16 { #expect(chip.output(channel: channel) == .off) }
    }

    @Test("MODE2: open drain, inverted, change on ACK, high impedance when OE is high")
    func mode2() async throws {
        let (bus, chip) = pca9685Bus()
        let configuration = PCA9685.Configuration(outputDriver: .openDrain, invertOutputs: true,
                                                  outputChange: .onAcknowledge, disabledOutputs: .highImpedance,
                                                  respondsToAllCall: false)
        _ = try await PCA9685(device: bus.device(pca9685Address), configuration: configuration)
        #expect(chip.mode2 == 0x1A)   // INVRT 0x10 | OCH 0x08 | OUTDRV 0 | OUTNE 10
        #expect(chip.mode1 == 0x20)   // AI, no ALLCALL
    }

    @Test("attaching to a running chip at the same frequency keeps its outputs and does not sleep")
    func keepOutputs() async throws {
        let (bus, chip) = pca9685Bus()
        _ = try await PCA9685(device: bus.device(pca9685Address), configuration: .servos)
        try bus.device(pca9685Address).writeRegisters(0x0A, [0x00, 0x00, 0x33, 0x01])  // channel 1: 307 counts
        bus.clearTrace()

        var configuration = PCA9685.Configuration.servos
        configuration.startup = .keepOutputs
        let pwm = try await PCA9685(device: bus.device(pca9685Address), configuration: configuration)
        #expect(bus.trace == [readByte(0x00), readByte(0x01), readByte(0xFE), writeByte(0x01, 0x04), writeByte(0x00, 0x21)])
        #expect(chip.output(channel: 1) == .pwm(on: 0, off: 307))
        #expect(chip.isRunning)
        #expect(await pwm.prescale == 121)
    }

    @Test("SMBus-only adapter: byte-data and I2C-block calls only")
    func smbusOnly() async throws {
        let (bus, chip) = pca9685Bus(.smbusOnly)
        let pwm = try await PCA9685(device: bus.device(pca9685Address), configuration: .servos)
        try await pwm.apply(.set(channel: 4, .dutyCycle(.percent(90), delay: .percent(90))))
        try await pwm.apply(.servo(channel: 0, degrees: 0))
        #expect(bus.trace.contains(.smbus(address: 0x40, operation: "write-i2c-block", command: 0x16, bytes: [0x65, 0x0E, 0xCB, 0x0C])))
        #expect(!bus.trace.contains { if case .transfer = $0 { true } else { false } })
        #expect(chip.output(channel: 4) == .pwm(on: 3685, off: 3275))
        #expect(chip.output(channel: 0) == .pwm(on: 0, off: 102))
        #expect(try await pwm.channelRegisters(4) == (try PCA9685.ChannelRegisters(on: 3685, off: 3275)))
        try await pwm.setFrequency(.hertz(60))
        #expect(chip.prescale == 101 && chip.isRunning && chip.earlyRestarts == 0)
        try await pwm.enterSafeState()
        #expect(chip.output(channel: 4) == .off)
    }

    @Test("no device at the address: HardwareError .noAcknowledge")
    func noAcknowledge() async {
        let bus = SimulatedI2CBus()
        let error = await #expect(throws: HardwareError.self) { _ = try await PCA9685(device: bus.device(pca9685Address)) }
        #expect(error?.code == .noAcknowledge)
    }

    @Test("another chip at the address: MODE2 reserved bits or PRE_SCALE below 3 → wrongChip naming the value")
    func wrongChip() async {
        let (bus, chip) = pca9685Bus()
        chip.force(0x01, 0xFF)
        let error = await #expect(throws: SensorError.self) { _ = try await PCA9685(device: bus.device(pca9685Address)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("0xFF") == true)

        let (bus2, chip2) = pca9685Bus()
        chip2.force(0xFE, 0x00)
        let error2 = await #expect(throws: SensorError.self) { _ = try await PCA9685(device: bus2.device(pca9685Address)) }
        #expect(error2?.code == .wrongChip)
        #expect(error2?.message.contains("PRE_SCALE (0xFE) reads 0x00") == true)
        #expect(bus2.trace.count == 3)   // reads only: nothing written to a chip that is not a PCA9685
    }
}

// MARK: - The simulated chip itself (datasheet rules the driver relies on)

@Suite("SimulatedPCA9685")
struct SimulatedPCA9685Tests {
    @Test("PRE_SCALE writes are blocked while awake (Table 3, note 1) and never below 3 (7.3.5)")
    func prescaleRules() throws {
        let (bus, chip) = pca9685Bus()
        let device = bus.device(pca9685Address)
        try device.writeRegister(0x00, 0x01)       // awake
        try device.writeRegister(0xFE, 0x79)
        #expect(chip.prescale == 0x1E)
        try device.writeRegister(0x00, 0x11)       // asleep
        try device.writeRegister(0xFE, 0x01)
        #expect(chip.prescale == 0x03)
    }

    @Test("without AI a multi-byte write lands in one register; reserved addresses are not acknowledged")
    func autoIncrement() throws {
        let (bus, chip) = pca9685Bus()
        let device = bus.device(pca9685Address)
        try device.writeRegisters(0x06, [0x11, 0x22, 0x33, 0x44])
        #expect(chip[0x06] == 0x44 && chip[0x07] == 0x00)
        let error = #expect(throws: HardwareError.self) { try device.writeRegister(0x50, 0x00) }
        #expect(error?.code == .noAcknowledge)
    }
}
