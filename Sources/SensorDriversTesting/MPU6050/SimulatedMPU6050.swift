import IoTSDK
import Synchronization

/// An InvenSense MPU-6050 on the simulated I2C bus, written from the "MPU-6000 and MPU-6050
/// Register Map and Descriptions" (RM-MPU-6000A-00, revision 4.2):
///
/// - the register file with its reset values (section 3: 0x00 everywhere except PWR_MGMT_1
///   0x40, i.e. asleep, and WHO_AM_I 0x68); a register pointer set by the first byte of a write
///   that advances after every byte read or written (burst access);
/// - read-only registers (INT_STATUS, the measurement registers 0x3B…0x60, WHO_AM_I) ignore
///   writes; INT_STATUS clears when read;
/// - PWR_MGMT_1.DEVICE_RESET returns every register to its reset value and then reads 0
///   (4.28); SLEEP stops sampling, so the measurement registers keep their last values;
///   TEMP_DIS stops the temperature sensor;
/// - while awake the measurement registers hold the values set with ``setEnvironment(acceleration:angularVelocity:temperature:)``,
///   encoded with the full-scale ranges in ACCEL_CONFIG/GYRO_CONFIG (4.17, 4.19: 16384…2048
///   LSB/g, 131…16.4 LSB/(°/s)) and TEMP_OUT = (T − 36.53 °C) × 340 (4.18), saturated to 16 bits;
///   each change raises INT_STATUS.DATA_RDY_INT when INT_ENABLE.DATA_RDY_EN is set.
///
/// Fault injection: ``whoAmI`` (clones answer 0x70, 0x72, 0x98), ``holdsReset`` (DEVICE_RESET
/// never clears). Not modelled: the FIFO, the I2C master, self-test, cycle mode, sample timing.
public final class SimulatedMPU6050: SimulatedI2CDevice {
    private struct Environment {
        var acceleration: Vector3<Acceleration> = Vector3(x: .zero, y: .zero, z: .standardGravity)
        var angularVelocity: Vector3<AngularVelocity> = .zero
        var temperature: Double = 25
    }

    private struct State {
        var registers = [UInt8](repeating: 0, count: 256)
        var pointer: UInt8 = 0
        var environment = Environment()
        var whoAmI: UInt8
        var holdsReset = false
        var resets = 0
    }

    private let state: Mutex<State>

    /// A chip after power-on: asleep, lying flat (+1 g on Z), still, at 25 °C.
    public init(whoAmI: UInt8 = 0x68) {
        state = Mutex(State(whoAmI: whoAmI))
        state.withLock { Self.reset(&$0) }
    }

    // MARK: - Physical world

    /// Sets what the chip measures; the measurement registers follow at once while it is awake.
    public func setEnvironment(acceleration: Vector3<Acceleration>, angularVelocity: Vector3<AngularVelocity>,
                               temperature: Temperature) {
        state.withLock { s in
            s.environment = Environment(acceleration: acceleration, angularVelocity: angularVelocity,
                                        temperature: temperature.celsius)
            Self.sample(&s)
        }
    }

    /// Stores raw measurement registers (0x3B…0x48, 14 bytes from ACCEL_XOUT_H), for tests that
    /// need exact register values such as negative full scale.
    public func loadMeasurementRegisters(_ bytes: [UInt8]) {
        state.withLock { s in
            for (i, byte) in bytes.prefix(14).enumerated() { s.registers[0x3B + i] = byte }
        }
    }

    // MARK: - Fault injection

    /// What WHO_AM_I (0x75) answers: 0x68 for a genuine part.
    public var whoAmI: UInt8 {
        get { state.withLock { $0.whoAmI } }
        set { state.withLock { s in s.whoAmI = newValue; s.registers[0x75] = newValue } }
    }

    /// When true, DEVICE_RESET stays 1 after it is written, as on a chip that does not
    /// finish its reset.
    public var holdsReset: Bool {
        get { state.withLock { $0.holdsReset } }
        set { state.withLock { $0.holdsReset = newValue } }
    }

    // MARK: - Observation

    /// A register as stored.
    public subscript(register: UInt8) -> UInt8 {
        state.withLock { $0.registers[Int(register)] }
    }

    /// Whether PWR_MGMT_1.SLEEP is set.
    public var isSleeping: Bool { self[0x6B] & 0x40 != 0 }
    /// PWR_MGMT_1.CLKSEL.
    public var clockSource: UInt8 { self[0x6B] & 0x07 }
    /// How many times DEVICE_RESET was written.
    public var resetCount: Int { state.withLock { $0.resets } }

    // MARK: - Bus side

    /// A write message: the register address, then data from that register on.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        guard let first = bytes.first else { return }
        state.withLock { s in
            s.pointer = first
            for byte in bytes.dropFirst() {
                Self.store(byte, at: s.pointer, in: &s)
                s.pointer &+= 1
            }
        }
    }

    /// A read message: `count` bytes from the register pointer on.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            (0..<count).map { _ in
                let register = s.pointer
                s.pointer &+= 1
                let value = s.registers[Int(register)]
                if register == 0x3A { s.registers[0x3A] = 0 }
                return value
            }
        }
    }

    // MARK: - Register semantics

    private static func reset(_ s: inout State) {
        s.registers = [UInt8](repeating: 0, count: 256)
        s.registers[0x6B] = 0x40
        s.registers[0x75] = s.whoAmI
    }

    private static func isReadOnly(_ register: UInt8) -> Bool {
        register == 0x3A || (0x3B...0x60).contains(register) || register == 0x75
    }

    private static func store(_ value: UInt8, at register: UInt8, in s: inout State) {
        guard !isReadOnly(register) else { return }
        switch register {
        case 0x6B:
            if value & 0x80 != 0 {
                s.resets += 1
                reset(&s)
                if s.holdsReset { s.registers[0x6B] |= 0x80 }
                return
            }
            s.registers[0x6B] = value & 0x7F | (s.holdsReset ? s.registers[0x6B] & 0x80 : 0)
        case 0x68:
            s.registers[0x68] = 0  // SIGNAL_PATH_RESET bits act and clear; data registers keep their values
        default:
            s.registers[Int(register)] = value
        }
        sample(&s)
    }

    /// Takes a sample into the measurement registers when the chip is awake.
    private static func sample(_ s: inout State) {
        let power = s.registers[0x6B]
        guard power & 0x40 == 0, power & 0x80 == 0 else { return }
        let accelSensitivity = [16384.0, 8192, 4096, 2048][Int(s.registers[0x1C] >> 3 & 0x03)]
        let gyroSensitivity = [131.0, 65.5, 32.8, 16.4][Int(s.registers[0x1B] >> 3 & 0x03)]
        let e = s.environment
        let accel = [e.acceleration.x, e.acceleration.y, e.acceleration.z].map { saturated($0.gravities * accelSensitivity) }
        let gyro = [e.angularVelocity.x, e.angularVelocity.y, e.angularVelocity.z].map { saturated($0.degreesPerSecond * gyroSensitivity) }
        put(accel, at: 0x3B, in: &s)
        if power & 0x08 == 0 { put([saturated((e.temperature - 36.53) * 340)], at: 0x41, in: &s) }
        put(gyro, at: 0x43, in: &s)
        if s.registers[0x38] & 0x01 != 0 { s.registers[0x3A] |= 0x01 }
    }

    private static func put(_ words: [Int16], at register: Int, in s: inout State) {
        for (i, word) in words.enumerated() {
            let bits = UInt16(bitPattern: word)
            s.registers[register + 2 * i] = UInt8(bits >> 8)
            s.registers[register + 2 * i + 1] = UInt8(bits & 0xFF)
        }
    }

    private static func saturated(_ value: Double) -> Int16 {
        guard value.isFinite else { return value > 0 ? .max : .min }
        return Int16(max(-32768, min(32767, value.rounded())))
    }
}
