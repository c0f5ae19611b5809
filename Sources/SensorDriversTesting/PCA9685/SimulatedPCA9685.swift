import IoTSDK
import Synchronization

/// An NXP PCA9685 16-channel PWM controller on the simulated I2C bus, written from its product
/// data sheet (Rev. 4, 16 April 2015), section 7.3:
///
/// - the register map of Table 3 with its power-on values: MODE1 0x11 (SLEEP, ALLCALL), MODE2
///   0x04 (totem pole), SUBADR1…3 0xE2/0xE4/0xE8, ALLCALLADR 0xE0, every LEDn_OFF_H 0x10
///   (full off), PRE_SCALE 0x1E (200 Hz);
/// - the control register (pointer) set by the first byte of a write; with MODE1.AI it advances
///   after every byte, from 0x45 back to 0x00 and from 0xFA…0xFE back to 0x00; without AI it
///   stays put. Reserved addresses 0x46…0xF9 are not acknowledged;
/// - read-only zero bits: MODE2 7…5, LEDn_ON_H/LEDn_OFF_H 7…5; ALL_LED_* write every channel's
///   matching register and read back 0;
/// - PRE_SCALE writes are ignored while SLEEP is 0 and never store less than 3;
/// - MODE1: EXTCLK is sticky; going to sleep with a channel running sets RESTART and halts the
///   PWM; writing RESTART = 1 clears it and restarts the channels (the simulation counts a
///   RESTART written less than 500 µs after SLEEP was cleared in ``earlyRestarts``); writing 0
///   leaves it. A write to a PWM register (all four of a channel when MODE2.OCH is 1) also
///   clears RESTART (7.3.1.1).
///
/// Not modelled: the OE pin, sub-address and All Call addressing, the software reset, the
/// test-mode register 0xFF (writes ignored), output timing within a period.
public final class SimulatedPCA9685: SimulatedI2CDevice {
    /// What one channel's registers make it do.
    public enum Output: Sendable, Hashable {
        /// Full off (LEDn_OFF_H bit 4).
        case off
        /// Full on (LEDn_ON_H bit 4, and full off not set).
        case on
        /// Turns on at count `on` and off at count `off`.
        case pwm(on: Int, off: Int)
    }

    private struct State {
        var registers = [UInt8](repeating: 0, count: 256)
        var pointer: UInt8 = 0
        var halted = false
        var wokeAt: ContinuousClock.Instant?
        var earlyRestarts = 0
    }

    private let state: Mutex<State>
    /// The oscillator frequency the model's ``frequency`` is computed with.
    public let oscillator: Frequency

    /// A chip in its power-on state.
    public init(oscillator: Frequency = .megahertz(25)) {
        self.oscillator = oscillator
        state = Mutex(State())
        powerCycle()
    }

    /// Returns every register to its power-on value (Table 3), as a power cycle does.
    public func powerCycle() {
        state.withLock { s in
            s = State()
            s.registers[0x00] = 0x11
            s.registers[0x01] = 0x04
            s.registers[0x02] = 0xE2
            s.registers[0x03] = 0xE4
            s.registers[0x04] = 0xE8
            s.registers[0x05] = 0xE0
            for channel in 0..<16 { s.registers[0x09 + 4 * channel] = 0x10 }
            s.registers[0xFE] = 0x1E
        }
    }

    // MARK: - Bus side

    /// A write message: the control register (pointer), then data.
    /// - Throws: `.noAcknowledge` for a reserved control register (0x46…0xF9).
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        guard let first = bytes.first else { return }
        guard Self.exists(first) else {
            throw HardwareError(.noAcknowledge, "PCA9685 did not acknowledge control register \(Self.hex(first)) (reserved)")
        }
        state.withLock { s in
            s.pointer = first
            var written: Set<UInt8> = []
            for byte in bytes.dropFirst() {
                Self.store(byte, at: s.pointer, in: &s)
                written.insert(s.pointer)
                s.pointer = Self.next(s.pointer, autoIncrement: s.registers[0] & 0x20 != 0)
            }
            Self.clearRestartAfterPWMWrite(written, in: &s)
        }
    }

    /// A read message: `count` bytes from the register pointer on.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            (0..<count).map { _ in
                let register = s.pointer
                s.pointer = Self.next(register, autoIncrement: s.registers[0] & 0x20 != 0)
                return (0xFA...0xFD).contains(register) ? 0 : s.registers[Int(register)]
            }
        }
    }

    // MARK: - Observation

    /// A register as stored (ALL_LED_* hold 0).
    public subscript(register: UInt8) -> UInt8 {
        state.withLock { $0.registers[Int(register)] }
    }

    /// MODE1 (0x00).
    public var mode1: UInt8 { self[0x00] }
    /// MODE2 (0x01).
    public var mode2: UInt8 { self[0x01] }
    /// PRE_SCALE (0xFE).
    public var prescale: UInt8 { self[0xFE] }

    /// Whether MODE1.SLEEP is set (oscillator off).
    public var isSleeping: Bool { mode1 & 0x10 != 0 }

    /// Whether the PWM runs: awake, and not waiting for a RESTART after sleep.
    public var isRunning: Bool { state.withLock { $0.registers[0] & 0x10 == 0 && !$0.halted } }

    /// The output frequency PRE_SCALE gives: oscillator / (4096 × (PRE_SCALE + 1)) (7.3.5).
    public var frequency: Frequency { .hertz(oscillator.hertz / (4096 * (Double(prescale) + 1))) }

    /// How often RESTART was written less than 500 µs after SLEEP was cleared, which the
    /// datasheet (7.3.1.1, Remark) forbids.
    public var earlyRestarts: Int { state.withLock { $0.earlyRestarts } }

    /// What channel `channel` (0…15) is set to.
    public func output(channel: Int) -> Output {
        let base = 0x06 + 4 * (channel & 0x0F)
        let bytes = state.withLock { s in (0..<4).map { s.registers[base + $0] } }
        if bytes[3] & 0x10 != 0 { return .off }
        if bytes[1] & 0x10 != 0 { return .on }
        return .pwm(on: Int(bytes[1] & 0x0F) << 8 | Int(bytes[0]), off: Int(bytes[3] & 0x0F) << 8 | Int(bytes[2]))
    }

    // MARK: - Fault injection

    /// Stores `value` in `register` without any of the chip's rules, so that the model can
    /// answer like another chip (e.g. MODE2 with reserved bits set).
    public func force(_ register: UInt8, _ value: UInt8) {
        state.withLock { $0.registers[Int(register)] = value }
    }

    // MARK: - Register semantics

    private static func exists(_ register: UInt8) -> Bool {
        register <= 0x45 || register >= 0xFA
    }

    private static func next(_ register: UInt8, autoIncrement: Bool) -> UInt8 {
        guard autoIncrement else { return register }
        if register == 0x45 || register >= 0xFE { return 0x00 }
        return register + 1
    }

    private static func store(_ value: UInt8, at register: UInt8, in s: inout State) {
        switch register {
        case 0x00:
            storeMode1(value, in: &s)
        case 0x01:
            s.registers[1] = value & 0x1F
        case 0x02...0x05:
            s.registers[Int(register)] = value
        case 0x06...0x45:
            let isHighByte = (register - 0x06) % 2 == 1
            s.registers[Int(register)] = isHighByte ? value & 0x1F : value
        case 0xFA...0xFD:
            let offset = Int(register - 0xFA)
            let isHighByte = offset % 2 == 1
            for channel in 0..<16 { s.registers[0x06 + 4 * channel + offset] = isHighByte ? value & 0x1F : value }
        case 0xFE:
            if s.registers[0] & 0x10 != 0 { s.registers[0xFE] = max(value, 3) }
        default:
            break  // 0xFF TestMode: reserved, ignored
        }
    }

    private static func storeMode1(_ value: UInt8, in s: inout State) {
        let old = s.registers[0]
        let wasSleeping = old & 0x10 != 0
        let sleeping = value & 0x10 != 0
        var restart = old & 0x80
        if !wasSleeping && sleeping {
            let anyRunning = (0..<16).contains { s.registers[0x09 + 4 * $0] & 0x10 == 0 }
            if anyRunning && !s.halted {
                restart = 0x80
                s.halted = true
            }
        }
        if wasSleeping && !sleeping {
            s.wokeAt = ContinuousClock.now
            if restart == 0 { s.halted = false }
        }
        if value & 0x80 != 0 && restart != 0 {
            if !sleeping {
                if let woke = s.wokeAt, ContinuousClock.now - woke < .microseconds(500) { s.earlyRestarts += 1 }
                restart = 0
                s.halted = false
            }
        }
        s.registers[0] = restart | (old & 0x40) | (value & 0x7F)
    }

    private static func clearRestartAfterPWMWrite(_ written: Set<UInt8>, in s: inout State) {
        let pwm = written.filter { (0x06...0x45).contains($0) || (0xFA...0xFD).contains($0) }
        guard !pwm.isEmpty else { return }
        let onAcknowledge = s.registers[1] & 0x08 != 0
        let clears: Bool
        if onAcknowledge {
            clears = (0..<16).contains { channel in (0..<4).allSatisfy { pwm.contains(UInt8(0x06 + 4 * channel + $0)) } }
                || (0xFA...0xFD).allSatisfy { pwm.contains($0) }
        } else {
            clears = true
        }
        if clears {
            s.registers[0] &= ~0x80
            if s.registers[0] & 0x10 == 0 { s.halted = false }
        }
    }

    private static func hex(_ value: UInt8) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + (digits.count < 2 ? "0" : "") + digits
    }
}
