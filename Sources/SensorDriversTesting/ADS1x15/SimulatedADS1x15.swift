import IoTSDK
import Synchronization

/// A TI ADS1115 or ADS1015 on a `SimulatedI2CBus`, modelled on the datasheets' register map
/// (SBAS444 / SBAS473, "Register Map"): the pointer byte selects one of four 16-bit registers,
/// written and read most significant byte first, with no auto-increment.
///
/// - Conversion register (00h): read-only, 0 after reset, the last result (ADS1015: 12 bits
///   left-justified, low four bits 0).
/// - Config register (01h): every bit stored; OS reads 0 while a conversion runs and 1 when idle
///   (always 0 in continuous mode). Writing OS = 1 in single-shot mode (MODE = 1) while idle starts
///   a conversion of the input and range in the written word; writing it during a conversion has no
///   effect, as the datasheet says.
/// - Lo_thresh / Hi_thresh (02h, 03h): stored; on the ADS1015 their low four bits are read-only and
///   read 0h (Lo) and Fh (Hi).
///
/// Inputs are set with ``setInput(_:to:)``; a conversion codes AINP − AINN with the ideal transfer
/// function of the "Input Signal Versus Ideal Output Code" table, clipping at full scale. How long
/// a single-shot conversion takes is a ``ConversionTiming``. The comparator's effect on the
/// ALERT/RDY pin is not modelled (its registers are).
public final class SimulatedADS1x15: SimulatedI2CDevice {
    /// The two parts, which differ in resolution and data rates.
    public enum Part: Sendable, Hashable {
        case ads1115, ads1015
    }

    /// When a started single-shot conversion completes.
    public enum ConversionTiming: Sendable, Hashable {
        /// At once: the next read of the config register already shows OS = 1.
        case immediate
        /// After the config register has been read this many times with OS = 0.
        case afterStatusReads(Int)
        /// After the nominal conversion time 1/DR of the written data rate, on the continuous clock.
        case realTime
        /// Never: OS stays 0, as on a hung or unpowered converter.
        case never
    }

    private struct State {
        var pointer: UInt8 = 0
        var conversion: UInt16 = 0
        var config: UInt16 = SimulatedADS1x15.configReset
        var lowThreshold: UInt16 = 0x8000
        var highThreshold: UInt16 = 0x7FFF
        var inputs: [Double] = [0, 0, 0, 0]
        var pending: Pending?
        var conversionsStarted = 0
        var timing: ConversionTiming
    }

    private struct Pending {
        var result: UInt16
        var startedAt: ContinuousClock.Instant
        var duration: Duration
        var statusReadsLeft: Int
    }

    /// Config after power-up or reset.
    public static let configReset: UInt16 = 0x8583

    /// The simulated part.
    public let part: Part
    private let state: Mutex<State>

    /// A chip in its power-up state with all inputs at 0 V.
    public init(part: Part = .ads1115, timing: ConversionTiming = .realTime) {
        self.part = part
        state = Mutex(State(timing: timing))
    }

    // MARK: - Environment and faults

    /// Sets the voltage on input `channel` (0-3, AIN0-AIN3) against GND; other channels are ignored.
    public func setInput(_ channel: Int, to voltage: Voltage) {
        guard (0...3).contains(channel) else { return }
        state.withLock { $0.inputs[channel] = voltage.volts }
    }

    /// Sets all four inputs at once.
    public func setInputs(ain0: Voltage, ain1: Voltage, ain2: Voltage, ain3: Voltage) {
        state.withLock { $0.inputs = [ain0.volts, ain1.volts, ain2.volts, ain3.volts] }
    }

    /// Changes how later conversions complete (fault injection: `.never`).
    public func setTiming(_ timing: ConversionTiming) {
        state.withLock { $0.timing = timing }
    }

    /// The effect of a general-call reset (address 00h, byte 06h) or a power cycle: every register
    /// back to its reset value, any conversion abandoned.
    public func reset() {
        state.withLock { s in
            s.pointer = 0
            s.conversion = 0
            s.config = Self.configReset
            s.lowThreshold = 0x8000
            s.highThreshold = 0x7FFF
            s.pending = nil
        }
    }

    // MARK: - Inspection

    /// The config register as stored (OS as last written).
    public var configRegister: UInt16 { state.withLock { $0.config } }
    /// The Lo_thresh register as it reads.
    public var lowThreshold: UInt16 { state.withLock { $0.lowThreshold } }
    /// The Hi_thresh register as it reads.
    public var highThreshold: UInt16 { state.withLock { $0.highThreshold } }
    /// How many single-shot conversions have been started.
    public var conversionsStarted: Int { state.withLock { $0.conversionsStarted } }

    // MARK: - Bus

    /// A write message: the pointer byte, then the register's bytes, most significant first.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        guard let pointer = bytes.first else { return }
        state.withLock { s in
            s.pointer = pointer & 0x03
            guard bytes.count >= 3 else { return }
            let value = UInt16(bytes[1]) << 8 | UInt16(bytes[2])
            switch s.pointer {
            case 0x01: writeConfig(value, &s)
            case 0x02: s.lowThreshold = part == .ads1015 ? value & 0xFFF0 : value
            case 0x03: s.highThreshold = part == .ads1015 ? value | 0x000F : value
            default: break
            }
        }
    }

    /// A read message: the pointed-to register, most significant byte first (repeated past its width).
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            let value = readRegister(&s)
            let bytes = [UInt8(value >> 8), UInt8(value & 0xFF)]
            return (0..<count).map { bytes[$0 % 2] }
        }
    }

    // MARK: - Model

    private func readRegister(_ s: inout State) -> UInt16 {
        settle(&s, countingStatusRead: s.pointer == 0x01)
        switch s.pointer {
        case 0x00:
            if s.config & 0x0100 == 0 { s.conversion = code(for: s.config, inputs: s.inputs) }
            return s.conversion
        case 0x01:
            let busy = s.config & 0x0100 == 0 || s.pending != nil
            return s.config & 0x7FFF | (busy ? 0 : 0x8000)
        case 0x02: return s.lowThreshold
        default: return s.highThreshold
        }
    }

    private func writeConfig(_ value: UInt16, _ s: inout State) {
        settle(&s, countingStatusRead: false)
        let converting = s.pending != nil
        s.config = value
        guard value & 0x8000 != 0, value & 0x0100 != 0, !converting else { return }
        s.conversionsStarted += 1
        let rate = dataRate(code: Int(value >> 5 & 0b111))
        var pending = Pending(result: code(for: value, inputs: s.inputs), startedAt: .now,
                              duration: .nanoseconds(1_000_000_000 / rate), statusReadsLeft: 0)
        switch s.timing {
        case .immediate:
            s.conversion = pending.result
            return
        case .afterStatusReads(let reads):
            pending.statusReadsLeft = reads
        case .realTime, .never:
            break
        }
        s.pending = pending
    }

    /// Completes the pending conversion if its time has come.
    private func settle(_ s: inout State, countingStatusRead: Bool) {
        guard var pending = s.pending else { return }
        let done: Bool
        switch s.timing {
        case .immediate: done = true
        case .afterStatusReads:
            if countingStatusRead && pending.statusReadsLeft > 0 {
                pending.statusReadsLeft -= 1
                s.pending = pending
                return
            }
            done = pending.statusReadsLeft <= 0
        case .realTime: done = ContinuousClock.now - pending.startedAt >= pending.duration
        case .never: done = false
        }
        if done {
            s.conversion = pending.result
            s.pending = nil
        }
    }

    /// The ideal output code of the input selected by `config`'s MUX at its PGA range.
    private func code(for config: UInt16, inputs: [Double]) -> UInt16 {
        let mux = Int(config >> 12 & 0b111)
        let pairs: [(Int, Int?)] = [(0, 1), (0, 3), (1, 3), (2, 3), (0, nil), (1, nil), (2, nil), (3, nil)]
        let (positive, negative) = pairs[mux]
        let difference = inputs[positive] - (negative.map { inputs[$0] } ?? 0)
        let fullScales = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256]
        let fullScale = fullScales[Int(config >> 9 & 0b111)]
        let bits = part == .ads1115 ? 16 : 12
        let half = Double(1 << (bits - 1))
        let steps = (difference / fullScale * half + 1e-9).rounded(.down)
        let clipped = Int(min(max(steps, -half), half - 1))
        let register = part == .ads1115 ? clipped : clipped << 4
        return UInt16(bitPattern: Int16(register))
    }

    /// Samples per second of the DR[2:0] value.
    private func dataRate(code: Int) -> Int {
        switch part {
        case .ads1115: [8, 16, 32, 64, 128, 250, 475, 860][code]
        case .ads1015: [128, 250, 490, 920, 1600, 2400, 3300, 3300][code]
        }
    }
}
