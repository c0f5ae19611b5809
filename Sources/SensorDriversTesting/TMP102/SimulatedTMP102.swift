import IoTSDK
import Synchronization

/// A TI TMP102 on a `SimulatedI2CBus`, modelled on the datasheet's register map (SBOS397): the
/// pointer byte's P1/P0 select one of four 16-bit registers, most significant byte first, no
/// auto-increment.
///
/// - Temperature (00h): read-only; 12-bit two's complement in bits 15-4 (D0 = 0), or in extended
///   mode 13-bit in bits 15-3 (D0 = 1); 0.0625 °C per LSB.
/// - Configuration (01h): power-up 60A0h. R1/R0 read-only 11b, AL read-only, bits 3-0 read 0; OS
///   reads 0 in continuous mode and during a one-shot conversion, 1 after one.
/// - T_LOW / T_HIGH (02h, 03h): power-up 75 °C / 80 °C, read in the current format.
///
/// Each ``setTemperature(_:)`` is one conversion in continuous mode (in shutdown the value waits for
/// a one-shot), which also runs the thermostat: the comparator with its fault queue (AL bit and
/// ALERT pin), and in interrupt mode a latch that any register read clears. A one-shot's duration
/// is a ``ConversionTiming``. The model starts as if powered for longer than one conversion, with
/// its first conversion done.
public final class SimulatedTMP102: SimulatedI2CDevice {
    /// When a one-shot conversion completes.
    public enum ConversionTiming: Sendable, Hashable {
        /// At once.
        case immediate
        /// After the configuration register has been read this many times with OS = 0.
        case afterStatusReads(Int)
        /// Never (fault injection): OS stays 0.
        case never
    }

    private struct State {
        var pointer: UInt8 = 0
        /// The stored writable configuration bits (F1 F0 POL TM SD CR1 CR0 EM).
        var config: UInt16 = 0x0080
        var lowLimit: UInt16 = 0x4B00
        var highLimit: UInt16 = 0x5000
        var temperature: UInt16 = 0
        var environment: Double
        var oneShotReadsLeft: Int?
        var oneShotDone = false
        var comparatorActive = false
        var faultCount = 0
        var interruptLatched = false
        var conversions = 0
        var timing: ConversionTiming
    }

    private static let writable: UInt16 = 0x1FD0
    private let state: Mutex<State>

    /// A chip in its power-up configuration that has converted `temperature`.
    public init(temperature: Temperature = Temperature(baseValue: 298.15), timing: ConversionTiming = .immediate) {
        var initial = State(environment: temperature.celsius, timing: timing)
        Self.convert(&initial)
        state = Mutex(initial)
    }

    // MARK: - Environment and faults

    /// Sets the die temperature. In continuous mode this is one conversion: the temperature register
    /// and the thermostat are updated. In shutdown the value waits for a one-shot conversion.
    public func setTemperature(_ temperature: Temperature) {
        state.withLock { s in
            s.environment = temperature.celsius
            if s.config & 0x0100 == 0 { Self.convert(&s) }
        }
    }

    /// Changes how later one-shot conversions complete.
    public func setTiming(_ timing: ConversionTiming) {
        state.withLock { s in
            s.timing = timing
            if timing == .immediate, s.oneShotReadsLeft != nil { Self.finishOneShot(&s) }
        }
    }

    /// A power cycle or general-call reset: every register to its power-up value, then the first
    /// conversion.
    public func reset() {
        state.withLock { s in
            s = State(environment: s.environment, timing: s.timing)
            Self.convert(&s)
        }
    }

    // MARK: - Inspection

    /// The configuration register as it reads (without counting as a bus read).
    public var configurationRegister: UInt16 { state.withLock { Self.configValue($0) } }
    /// The temperature register.
    public var temperatureRegister: UInt16 { state.withLock { $0.temperature } }
    /// T_LOW and T_HIGH as they read.
    public var limitRegisters: (low: UInt16, high: UInt16) {
        state.withLock { s in (Self.limitValue(s.lowLimit, s), Self.limitValue(s.highLimit, s)) }
    }
    /// Whether the open-drain ALERT pin pulls low (active low is the power-up polarity).
    public var alertPinIsLow: Bool {
        state.withLock { s in
            let asserted = s.config & 0x0200 != 0 ? s.interruptLatched : s.comparatorActive
            return s.config & 0x0400 != 0 ? !asserted : asserted
        }
    }
    /// Conversions done so far (continuous and one-shot).
    public var conversions: Int { state.withLock { $0.conversions } }

    // MARK: - Bus

    /// A write message: the pointer byte, then the register's bytes, most significant first.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        guard let pointer = bytes.first else { return }
        state.withLock { s in
            s.pointer = pointer & 0x03
            guard bytes.count >= 3 else { return }
            let value = UInt16(bytes[1]) << 8 | UInt16(bytes[2])
            switch s.pointer {
            case 0x01: Self.writeConfig(value, &s)
            case 0x02: s.lowLimit = value
            case 0x03: s.highLimit = value
            default: break                               // temperature register: read-only
            }
        }
    }

    /// A read message: the pointed-to register, most significant byte first (repeated past its width).
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            let value: UInt16
            switch s.pointer {
            case 0x00: value = s.temperature
            case 0x01:
                if let left = s.oneShotReadsLeft, case .afterStatusReads = s.timing {
                    if left > 0 { s.oneShotReadsLeft = left - 1 } else { Self.finishOneShot(&s) }
                }
                value = Self.configValue(s)
            case 0x02: value = Self.limitValue(s.lowLimit, s)
            default: value = Self.limitValue(s.highLimit, s)
            }
            s.interruptLatched = false                   // interrupt mode: any read clears ALERT
            let bytes = [UInt8(value >> 8), UInt8(value & 0xFF)]
            return (0..<count).map { bytes[$0 % 2] }
        }
    }

    // MARK: - Model

    private static func writeConfig(_ value: UInt16, _ s: inout State) {
        let wasShutDown = s.config & 0x0100 != 0
        s.config = value & writable
        let shutDown = s.config & 0x0100 != 0
        if shutDown && !wasShutDown {
            s.oneShotDone = false
            s.interruptLatched = false                   // shutdown clears the ALERT pin
        }
        if !shutDown {
            s.oneShotDone = false
            s.oneShotReadsLeft = nil
        }
        guard shutDown, value & 0x8000 != 0, s.oneShotReadsLeft == nil else { return }
        s.oneShotDone = false
        switch s.timing {
        case .immediate: convert(&s); s.oneShotDone = true
        case .afterStatusReads(let reads): s.oneShotReadsLeft = reads
        case .never: s.oneShotReadsLeft = Int.max
        }
    }

    private static func finishOneShot(_ s: inout State) {
        s.oneShotReadsLeft = nil
        convert(&s)
        s.oneShotDone = true
    }

    private static func configValue(_ s: State) -> UInt16 {
        let polarityHigh = s.config & 0x0400 != 0
        let alertBit = s.comparatorActive == polarityHigh      // POL = 0: reads 1 until active
        let osBit = s.config & 0x0100 != 0 && s.oneShotDone && s.oneShotReadsLeft == nil
        return (osBit ? 0x8000 : 0) | 0x6000 | s.config | (alertBit ? 0x0020 : 0)
    }

    private static func limitValue(_ raw: UInt16, _ s: State) -> UInt16 {
        s.config & 0x0010 != 0 ? raw & 0xFFF8 : raw & 0xFFF0
    }

    /// One conversion of the environment temperature, then the thermostat.
    private static func convert(_ s: inout State) {
        let extended = s.config & 0x0010 != 0
        let maxSteps = extended ? 4095.0 : 2047.0
        let steps = Int(min(max((s.environment / 0.0625 + 1e-9).rounded(.down), -maxSteps - 1), maxSteps))
        s.temperature = extended ? UInt16(bitPattern: Int16(steps << 3)) | 1 : UInt16(bitPattern: Int16(steps << 4))
        s.conversions += 1

        let shift: Int16 = extended ? 3 : 4
        let now = Int16(bitPattern: s.temperature) >> shift
        let high = Int16(bitPattern: s.highLimit) >> shift
        let low = Int16(bitPattern: s.lowLimit) >> shift
        let needed = [1, 2, 4, 6][Int(s.config >> 11 & 0b11)]
        let fault = s.comparatorActive ? now < low : now >= high
        s.faultCount = fault ? s.faultCount + 1 : 0
        if s.faultCount >= needed {
            s.comparatorActive.toggle()
            s.faultCount = 0
            s.interruptLatched = true
        }
    }
}
