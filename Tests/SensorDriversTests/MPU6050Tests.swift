import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

// Register map: InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions",
// RM-MPU-6000A-00 revision 4.2.

// MARK: - Helpers

private let mpuAddress: I2CAddress = 0x68

private func mpuBus(_ functionality: I2CFunctionality = .fullI2C, whoAmI: UInt8 = 0x68) -> (SimulatedI2CBus, SimulatedMPU6050) {
    let chip = SimulatedMPU6050(whoAmI: whoAmI)
    let bus = SimulatedI2CBus(functionality: functionality, devices: [mpuAddress: chip])
    return (bus, chip)
}

/// Without the 100 ms reset, for tests about something else.
private let quickStart = MPU6050.Configuration(resetsOnStart: false)

private func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance }

/// Big-endian bytes of a signed 16-bit value.
private func be(_ value: Int16) -> [UInt8] {
    let bits = UInt16(bitPattern: value)
    return [UInt8(bits >> 8), UInt8(bits & 0xFF)]
}

// MARK: - Conversions

@Suite("MPU-6050 conversions")
struct MPU6050ConversionTests {
    @Test("accelerometer sensitivities of 4.17: 16384, 8192, 4096, 2048 LSB/g for ±2, 4, 8, 16 g")
    func accelerometerSensitivity() {
        #expect(MPU6050.AccelerometerRange.allCases.map(\.sensitivity) == [16384, 8192, 4096, 2048])
        #expect(MPU6050.AccelerometerRange.allCases.map(\.fullScale.gravities) == [2, 4, 8, 16])
        for range in MPU6050.AccelerometerRange.allCases {
            #expect(close(MPU6050.acceleration(raw: Int16(range.sensitivity), range: range).gravities, 1))
        }
        #expect(close(MPU6050.acceleration(raw: -2048, range: .g16).metersPerSecondSquared, -9.80665))
    }

    @Test("gyroscope sensitivities of 4.19: 131, 65.5, 32.8, 16.4 LSB/(°/s) for ±250, 500, 1000, 2000 °/s")
    func gyroscopeSensitivity() {
        #expect(MPU6050.GyroscopeRange.allCases.map(\.sensitivity) == [131, 65.5, 32.8, 16.4])
        #expect(MPU6050.GyroscopeRange.allCases.map(\.fullScale.degreesPerSecond).map { $0.rounded() } == [250, 500, 1000, 2000])
        #expect(close(MPU6050.angularVelocity(raw: 131, range: .degreesPerSecond250).degreesPerSecond, 1))
        #expect(close(MPU6050.angularVelocity(raw: 655, range: .degreesPerSecond500).degreesPerSecond, 10))
        #expect(close(MPU6050.angularVelocity(raw: -328, range: .degreesPerSecond1000).degreesPerSecond, -10))
        #expect(close(MPU6050.angularVelocity(raw: -32768, range: .degreesPerSecond2000).degreesPerSecond, -1998.048780, 1e-6))
    }

    @Test("temperature of 4.18: TEMP_OUT / 340 + 36.53 °C", arguments: [
        (Int16(0), 36.53), (340, 37.53), (-3920, 25.000_588), (-12420, 0.000_588), (32767, 132.903_529), (-32768, -59.846_471),
    ])
    func temperature(raw: Int16, celsius: Double) throws {
        #expect(close(try MPU6050.temperature(raw: raw).celsius, celsius, 1e-6))
    }

    @Test("a burst of 0x3B…0x48 decodes big-endian two's complement, negative values included")
    func burstDecoding() throws {
        let bytes: [UInt8] = [0xC0, 0x00,  0x40, 0x00,  0x80, 0x00,   // accel −16384, +16384, −32768
                              0xF0, 0xB0,                              // temp −3920
                              0xFF, 0x7D,  0x00, 0x83,  0x7F, 0xFF]    // gyro −131, +131, +32767
        let m = try MPU6050.decode(bytes, accelerometerRange: .g2, gyroscopeRange: .degreesPerSecond250)
        #expect(close(m.acceleration.x.gravities, -1) && close(m.acceleration.y.gravities, 1) && close(m.acceleration.z.gravities, -2))
        #expect(close(m.temperature.celsius, 25.000_588, 1e-6))
        #expect(close(m.angularVelocity.x.degreesPerSecond, -1) && close(m.angularVelocity.y.degreesPerSecond, 1))
        #expect(close(m.angularVelocity.z.degreesPerSecond, 32767.0 / 131))
        let wide = try MPU6050.decode(bytes, accelerometerRange: .g16, gyroscopeRange: .degreesPerSecond2000)
        #expect(close(wide.acceleration.x.gravities, -8) && close(wide.angularVelocity.x.degreesPerSecond, -131 / 16.4))
    }

    @Test("a burst that is not 14 bytes is invalid data")
    func shortBurst() {
        let error = #expect(throws: SensorError.self) {
            try MPU6050.decode([UInt8](repeating: 0, count: 12), accelerometerRange: .g2, gyroscopeRange: .degreesPerSecond250)
        }
        #expect(error?.code == .invalidData)
    }

    @Test("sample rate of 4.2: gyroscope output rate (8 kHz without DLPF, 1 kHz with) / (1 + SMPLRT_DIV)")
    func sampleRate() throws {
        #expect(MPU6050.sampleRate(divider: 0, filter: .bandwidth260Hz).hertz == 8000)
        #expect(MPU6050.sampleRate(divider: 7, filter: .bandwidth260Hz).hertz == 1000)
        #expect(MPU6050.sampleRate(divider: 9, filter: .bandwidth44Hz).hertz == 100)
        #expect(MPU6050.sampleRate(divider: 255, filter: .bandwidth5Hz).hertz == 1000.0 / 256)
        #expect(try MPU6050.sampleRateDivider(for: .hertz(100), filter: .bandwidth44Hz) == 9)
        #expect(try MPU6050.sampleRateDivider(for: .kilohertz(8), filter: .bandwidth260Hz) == 0)
        #expect(MPU6050.Configuration().sampleRate.hertz == 100)
        for rate in [2000.0, 1, 0, .nan] {
            let error = #expect(throws: SensorError.self) { try MPU6050.sampleRateDivider(for: .hertz(rate), filter: .bandwidth44Hz) }
            #expect(error?.code == .invalidSetting)
        }
    }

    @Test("DLPF table of 4.3")
    func filterTable() {
        let filters = MPU6050.LowPassFilter.allCases
        #expect(filters.map(\.accelerometerBandwidth.hertz) == [260, 184, 94, 44, 21, 10, 5])
        #expect(filters.map(\.gyroscopeBandwidth.hertz) == [256, 188, 98, 42, 20, 10, 5])
        #expect(filters.map(\.gyroscopeOutputRate.hertz) == [8000, 1000, 1000, 1000, 1000, 1000, 1000])
    }
}

// MARK: - Identity

@Suite("MPU-6050 WHO_AM_I")
struct MPU6050IdentityTests {
    @Test("0x68 is an MPU-6050")
    func genuine() throws {
        #expect(try MPU6050.identity(whoAmI: 0x68, check: .genuineOnly) == .mpu6050)
    }

    @Test("clone answers are refused by default, naming the value and the setting that accepts them",
          arguments: [UInt8(0x70), 0x72, 0x98])
    func clones(whoAmI: UInt8) throws {
        let error = #expect(throws: SensorError.self) { try MPU6050.identity(whoAmI: whoAmI, check: .genuineOnly) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("reads \(mpuHex(whoAmI))") == true)
        #expect(error?.message.contains("expected 0x68") == true)
        #expect(error?.message.contains(".allowingKnownClones") == true)
        #expect(try MPU6050.identity(whoAmI: whoAmI, check: .allowingKnownClones) == .clone(whoAmI: whoAmI))
    }

    @Test("other parts and other chips are refused even with clones allowed")
    func others() {
        let mpu9250 = #expect(throws: SensorError.self) { try MPU6050.identity(whoAmI: 0x71, check: .allowingKnownClones) }
        #expect(mpu9250?.message.contains("MPU-9250") == true)
        let other = #expect(throws: SensorError.self) { try MPU6050.identity(whoAmI: 0x00, check: .allowingKnownClones) }
        #expect(other?.code == .wrongChip)
        #expect(other?.message.contains("reads 0x00, expected 0x68") == true)
        #expect(other?.message.contains("0x69") == true)
    }
}

private func mpuHex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + (digits.count < 2 ? "0" : "") + digits
}

// MARK: - Driver on the simulated chip

@Suite("MPU-6050 driver")
struct MPU6050DriverTests {
    @Test("start: WHO_AM_I, DEVICE_RESET, poll, wake with PLL X gyro, configuration burst and read-back (4.28)")
    func startSequence() async throws {
        let (bus, chip) = mpuBus()
        let imu = try await MPU6050(device: bus.device(mpuAddress))
        #expect(bus.trace == [
            .smbus(address: 0x68, operation: "read-byte-data", command: 0x75, bytes: []),          // WHO_AM_I
            .smbus(address: 0x68, operation: "write-byte-data", command: 0x6B, bytes: [0x80]),     // DEVICE_RESET, wait 100 ms
            .smbus(address: 0x68, operation: "read-byte-data", command: 0x6B, bytes: []),          // DEVICE_RESET cleared?
            .smbus(address: 0x68, operation: "write-byte-data", command: 0x6B, bytes: [0x01]),     // SLEEP 0, CLKSEL 1
            .transfer(address: 0x68, messages: [.write([0x19, 9, 3, 0x00, 0x00])]),               // SMPLRT_DIV…ACCEL_CONFIG
            .transfer(address: 0x68, messages: [.write([0x19]), .read(count: 4)]),                  // read-back
        ])
        #expect(chip.resetCount == 1)
        #expect(!chip.isSleeping)
        #expect(chip.clockSource == 1)
        #expect(imu.identity == .mpu6050)
    }

    @Test("a reading is one 14-byte burst from 0x3B, converted with the ranges in force")
    func read() async throws {
        let (bus, chip) = mpuBus()
        let configuration = MPU6050.Configuration(accelerometerRange: .g4, gyroscopeRange: .degreesPerSecond500, resetsOnStart: false)
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: configuration)
        chip.setEnvironment(acceleration: Vector3(x: .gravities(0.5), y: .gravities(-0.25), z: .gravities(-3.5)),
                            angularVelocity: Vector3(x: .degreesPerSecond(10), y: .degreesPerSecond(-20), z: .degreesPerSecond(-450)),
                            temperature: try .celsius(21.5))
        #expect(chip[0x3B] == 0x10 && chip[0x3C] == 0x00)   // +0.5 g × 8192 = 4096
        bus.clearTrace()

        let reading = try await imu.read()

        #expect(bus.trace == [
            .smbus(address: 0x68, operation: "read-byte-data", command: 0x6B, bytes: []),
            .transfer(address: 0x68, messages: [.write([0x3B]), .read(count: 14)]),
        ])
        let m = reading.value
        let oneLSB = 1 / 8192.0
        #expect(close(m.acceleration.x.gravities, 0.5, oneLSB) && close(m.acceleration.y.gravities, -0.25, oneLSB))
        #expect(close(m.acceleration.z.gravities, -3.5, oneLSB))
        #expect(close(m.angularVelocity.x.degreesPerSecond, 10, 1 / 65.5) && close(m.angularVelocity.y.degreesPerSecond, -20, 1 / 65.5))
        #expect(close(m.angularVelocity.z.degreesPerSecond, -450, 1 / 65.5))
        #expect(close(m.temperature.celsius, 21.5, 1 / 340.0))
    }

    @Test("values beyond full scale saturate at −32768/+32767")
    func saturation() async throws {
        let (bus, chip) = mpuBus()
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: quickStart)
        chip.setEnvironment(acceleration: Vector3(x: .gravities(-5), y: .gravities(5), z: .zero),
                            angularVelocity: .zero, temperature: try .celsius(25))
        let m = try await imu.read().value
        #expect(m.acceleration.x.gravities == -2)
        #expect(close(m.acceleration.y.gravities, 32767 / 16384.0))
    }

    @Test("configure() switches ranges; the next reading uses them")
    func reconfigure() async throws {
        let (bus, chip) = mpuBus()
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: quickStart)
        chip.setEnvironment(acceleration: Vector3(x: .gravities(12), y: .zero, z: .zero),
                            angularVelocity: Vector3(x: .degreesPerSecond(1500), y: .zero, z: .zero), temperature: try .celsius(30))
        #expect(try await imu.read().value.acceleration.x.gravities == 32767 / 16384.0)
        var wide = quickStart
        wide.accelerometerRange = .g16
        wide.gyroscopeRange = .degreesPerSecond2000
        try await imu.configure(wide)
        #expect(chip[0x1C] == 0x18 && chip[0x1B] == 0x18)
        let m = try await imu.read().value
        #expect(close(m.acceleration.x.gravities, 12, 1 / 2048.0))
        #expect(close(m.angularVelocity.x.degreesPerSecond, 1500, 1 / 16.4))
        #expect(await imu.configuration == wide)
    }

    @Test("SMBus-only adapter: I2C-block calls for the bursts")
    func smbusOnly() async throws {
        let (bus, chip) = mpuBus(.smbusOnly)
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: quickStart)
        chip.setEnvironment(acceleration: Vector3(x: .zero, y: .gravities(-1), z: .gravities(1)),
                            angularVelocity: Vector3(x: .zero, y: .zero, z: .degreesPerSecond(-90)), temperature: try .celsius(40))
        bus.clearTrace()
        let m = try await imu.read().value
        #expect(bus.trace == [
            .smbus(address: 0x68, operation: "read-byte-data", command: 0x6B, bytes: []),
            .smbus(address: 0x68, operation: "read-i2c-block", command: 0x3B, bytes: [14]),
        ])
        #expect(close(m.acceleration.y.gravities, -1) && close(m.acceleration.z.gravities, 1))
        #expect(close(m.angularVelocity.z.degreesPerSecond, -90, 1 / 131.0))
        #expect(close(m.temperature.celsius, 40, 1 / 340.0))
    }

    @Test("SMBus-only start writes the configuration as one I2C-block write")
    func smbusOnlyStart() async throws {
        let (bus, chip) = mpuBus(.smbusOnly)
        _ = try await MPU6050(device: bus.device(mpuAddress))
        #expect(bus.trace.contains(.smbus(address: 0x68, operation: "write-i2c-block", command: 0x19, bytes: [9, 3, 0, 0])))
        #expect(chip.resetCount == 1 && !chip.isSleeping)
    }

    @Test("WHO_AM_I mismatch: wrongChip naming the value, and nothing written")
    func whoAmIMismatch() async {
        let (bus, _) = mpuBus(whoAmI: 0x70)
        let error = await #expect(throws: SensorError.self) { _ = try await MPU6050(device: bus.device(mpuAddress)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.chip == "MPU-6050 at 0x68 on simulated i2c-1")
        #expect(error?.message.contains("reads 0x70, expected 0x68") == true)
        #expect(bus.trace == [.smbus(address: 0x68, operation: "read-byte-data", command: 0x75, bytes: [])])
    }

    @Test("a known clone works when the configuration allows it, and says so")
    func cloneAllowed() async throws {
        let (bus, chip) = mpuBus(whoAmI: 0x98)
        var configuration = quickStart
        configuration.identityCheck = .allowingKnownClones
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: configuration)
        #expect(imu.identity == .clone(whoAmI: 0x98))
        chip.loadMeasurementRegisters(be(-16384) + be(0) + be(16384) + be(0) + be(-131) + be(0) + be(0))
        let m = try await imu.read().value
        #expect(m.acceleration.x.gravities == -1 && m.acceleration.z.gravities == 1)
        #expect(m.angularVelocity.x.degreesPerSecond == -1)
        #expect(close(m.temperature.celsius, 36.53))
    }

    @Test("no device at the address: HardwareError .noAcknowledge")
    func noAcknowledge() async {
        let bus = SimulatedI2CBus()
        let error = await #expect(throws: HardwareError.self) { _ = try await MPU6050(device: bus.device(mpuAddress)) }
        #expect(error?.code == .noAcknowledge)
    }

    @Test("a reset that never finishes times out")
    func resetTimeout() async {
        let (bus, chip) = mpuBus()
        chip.holdsReset = true
        let error = await #expect(throws: SensorError.self) { _ = try await MPU6050(device: bus.device(mpuAddress)) }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("DEVICE_RESET") == true)
    }

    @Test("a chip that was reset behind the driver's back is reported, not read stale")
    func resetBehindTheBack() async throws {
        let (bus, _) = mpuBus()
        let imu = try await MPU6050(device: bus.device(mpuAddress), configuration: quickStart)
        try bus.device(mpuAddress).writeRegister(0x6B, 0x80)   // as a brown-out would: back to 0x40, asleep
        let error = await #expect(throws: SensorError.self) { _ = try await imu.read() }
        #expect(error?.code == .invalidData)
        #expect(error?.message.contains("0x40") == true)
    }

    @Test("configuration registers that do not read back as written are invalid data")
    func readBackMismatch() async {
        let chip = IgnoresAccelerometerConfig(SimulatedMPU6050())
        let bus = SimulatedI2CBus(devices: [mpuAddress: chip])
        let error = await #expect(throws: SensorError.self) {
            _ = try await MPU6050(device: bus.device(mpuAddress), configuration: MPU6050.Configuration(accelerometerRange: .g8, resetsOnStart: false))
        }
        #expect(error?.code == .invalidData)
        #expect(error?.message.contains("0x10") == true)
    }
}

/// A chip that drops writes to ACCEL_CONFIG (0x1C), as a part with another register map could.
private final class IgnoresAccelerometerConfig: SimulatedI2CDevice {
    let inner: SimulatedMPU6050
    init(_ inner: SimulatedMPU6050) { self.inner = inner }

    func write(_ bytes: [UInt8]) throws(HardwareError) {
        if bytes.first == 0x19, bytes.count == 5 {
            try inner.write(Array(bytes.prefix(4)))
        } else {
            try inner.write(bytes)
        }
    }

    func read(count: Int) throws(HardwareError) -> [UInt8] { try inner.read(count: count) }
}

// MARK: - The simulated chip itself

@Suite("SimulatedMPU6050")
struct SimulatedMPU6050Tests {
    @Test("reset values of section 3; asleep, the data registers do not follow the environment")
    func resetValues() throws {
        let chip = SimulatedMPU6050()
        #expect(chip[0x6B] == 0x40 && chip[0x75] == 0x68 && chip[0x1C] == 0x00)
        chip.setEnvironment(acceleration: Vector3(x: .gravities(1), y: .zero, z: .zero), angularVelocity: .zero, temperature: try .celsius(25))
        #expect(chip[0x3B] == 0x00)
        try chip.write([0x75, 0x00])   // WHO_AM_I is read-only
        #expect(chip[0x75] == 0x68)
    }
}
