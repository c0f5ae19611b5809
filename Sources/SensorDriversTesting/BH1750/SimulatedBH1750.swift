import IoTSDK
import Synchronization

/// A ROHM BH1750FVI on the simulated I2C bus, written from the datasheet's instruction set
/// ("BH1750FVI Technical Note", "Instruction Set Architecture", "Measurement mode explanation",
/// "Adjust measurement result for influence of optical window"): Power Down / Power On / Reset,
/// continuous and one-time measurement in H-, H2- and L-resolution mode, and the measurement-time
/// register MTreg (31…254, loaded by two opcodes).
///
/// The chip starts powered down with MTreg 69 and a data register of 0. A measurement takes the
/// typical time (120 ms in the H modes, 16 ms in L mode, × MTreg / 69) on the real clock; a read
/// returns the data register, which holds the last completed result (0 after Reset), high byte
/// first. A one-time measurement powers the chip down when it completes. Counts are encoded as
/// lux × 1.2 × MTreg / 69 (× 2 in H-resolution mode 2), limited to 16 bits. Reset is ignored in
/// power-down, as the datasheet says.
///
/// ```swift
/// let chip = SimulatedBH1750()
/// chip.setIlluminance(.lux(350))
/// let bus = SimulatedI2CBus(devices: [0x23: chip])
/// ```
public final class SimulatedBH1750: SimulatedI2CDevice {
    private enum Measuring {
        case none
        case continuous(opcode: UInt8, start: ContinuousClock.Instant, measurementTime: UInt8)
        case oneTime(opcode: UInt8, start: ContinuousClock.Instant, measurementTime: UInt8)
    }

    private struct State {
        var lux: Double = 0
        var poweredOn = false
        var measuring: Measuring = .none
        var measurementTime: UInt8 = 69
        var dataRegister: UInt16 = 0
        var opcodes: [UInt8] = []
    }

    private let state = Mutex(State())

    /// A chip just powered up, in the dark.
    public init() {}

    // MARK: - Test controls

    /// Sets the light falling on the sensor from now on.
    public func setIlluminance(_ illuminance: Illuminance) {
        state.withLock { $0.lux = illuminance.lux }
    }

    /// The measurement-time register.
    public var measurementTime: UInt8 { state.withLock { $0.measurementTime } }

    /// Whether the chip is powered on (measuring or waiting for a command).
    public var isPoweredOn: Bool {
        state.withLock { s in
            Self.settle(&s, now: .now)
            return s.poweredOn
        }
    }

    /// Every opcode received, in order.
    public var receivedOpcodes: [UInt8] { state.withLock { $0.opcodes } }

    // MARK: - SimulatedI2CDevice

    /// A write message: one opcode (the chip takes one opcode per message).
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        let now = ContinuousClock.now
        state.withLock { s in
            guard bytes.count == 1 else { return }
            let opcode = bytes[0]
            s.opcodes.append(opcode)
            Self.settle(&s, now: now)
            switch opcode {
            case 0x00:
                s.poweredOn = false
                s.measuring = .none
            case 0x01:
                s.poweredOn = true
            case 0x07:
                if s.poweredOn { s.dataRegister = 0 }
            case 0x10, 0x11, 0x13:
                s.poweredOn = true
                s.measuring = .continuous(opcode: opcode, start: now, measurementTime: s.measurementTime)
            case 0x20, 0x21, 0x23:
                s.poweredOn = true
                s.measuring = .oneTime(opcode: opcode, start: now, measurementTime: s.measurementTime)
            case 0x40...0x47:
                s.measurementTime = s.measurementTime & 0x1F | (opcode & 0x07) << 5
            case 0x60...0x7F:
                s.measurementTime = s.measurementTime & 0xE0 | opcode & 0x1F
            default:
                break
            }
        }
    }

    /// A read message: the data register, high byte first (0xFF past the second byte).
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        let register = state.withLock { s in
            Self.settle(&s, now: .now)
            return s.dataRegister
        }
        let bytes = [UInt8(register >> 8), UInt8(register & 0xFF)]
        return count <= 2 ? Array(bytes.prefix(count)) : bytes + [UInt8](repeating: 0xFF, count: count - 2)
    }

    // MARK: - Datasheet behaviour

    /// Brings the data register up to date with the measurements completed by `now`.
    private static func settle(_ s: inout State, now: ContinuousClock.Instant) {
        switch s.measuring {
        case .none:
            break
        case .continuous(let opcode, let start, let time):
            if now >= start + typicalDuration(opcode, time) { s.dataRegister = count(s.lux, opcode, time) }
        case .oneTime(let opcode, let start, let time):
            if now >= start + typicalDuration(opcode, time) {
                s.dataRegister = count(s.lux, opcode, time)
                s.measuring = .none
                s.poweredOn = false                     // one-time mode ends in power-down
            }
        }
    }

    /// 120 ms (H modes) or 16 ms (L mode) at MTreg 69, scaled by MTreg / 69.
    private static func typicalDuration(_ opcode: UInt8, _ measurementTime: UInt8) -> Duration {
        let base: Double = opcode & 0x03 == 0x03 ? 0.016 : 0.120
        return .seconds(base * Double(measurementTime) / 69)
    }

    /// The count for `lux`: lux × 1.2 × MTreg / 69, doubled in H-resolution mode 2.
    private static func count(_ lux: Double, _ opcode: UInt8, _ measurementTime: UInt8) -> UInt16 {
        var value = lux * 1.2 * Double(measurementTime) / 69
        if opcode & 0x03 == 0x01 { value *= 2 }
        guard value.isFinite else { return value > 0 ? .max : 0 }
        return UInt16(min(max(value.rounded(), 0), 65535))
    }
}
