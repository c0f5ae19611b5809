import IoTSDK
import Synchronization

/// A Sensirion SHT3x-DIS on the simulated I2C bus, written from the datasheet's command set
/// ("Datasheet SHT3x-DIS", section 4): single-shot measurements with and without clock
/// stretching, periodic acquisition at 0.5-10 mps and ART with Fetch Data, Break, Soft Reset,
/// heater, and the status register. Replies carry the CRC-8 of section 4.12.
///
/// Timing follows the datasheet's typical durations on the real clock: a single-shot result
/// without clock stretching is ready 12.5 / 4.5 / 2.5 ms (high / medium / low repeatability) after
/// the command, and until then the read header is NACKed (`HardwareError(.noAcknowledge)`).
/// With clock stretching the read returns at once (the stretching is not simulated). In periodic
/// mode a new result appears every period, the first one a measurement time after the start;
/// Fetch Data hands it out once, and with nothing new the read header is NACKed (section 4.6).
/// While periodic mode runs, commands other than Fetch Data, Break, a new periodic/ART start and
/// Soft Reset are not processed and set the status register's command-status bit.
///
/// ```swift
/// let chip = SimulatedSHT3x()
/// chip.setEnvironment(temperature: try .celsius(21.5), humidity: .percent(40))
/// let bus = SimulatedI2CBus(devices: [0x44: chip])
/// ```
public final class SimulatedSHT3x: SimulatedI2CDevice {
    private enum Pending {
        case nothing
        case singleShot(ready: ContinuousClock.Instant)
        case status
        case fetch
    }

    private struct Periodic {
        var start: ContinuousClock.Instant
        var period: Duration
        var measurement: Duration
        /// How many results Fetch Data has handed out or skipped.
        var delivered: Int
    }

    private struct State {
        var signals: SensirionSignals
        var status: UInt16
        var pending: Pending = .nothing
        var periodic: Periodic?
        var commands: [UInt16] = []
    }

    private let state: Mutex<State>

    /// A chip just powered up at 25 °C and 50 %RH. The status register holds its power-up value
    /// (alert pending and reset detected set, Table 18).
    public init() {
        state = Mutex(State(
            signals: SensirionSignals(temperatureWord: SensirionWireFormat.temperatureWord(celsius: 25),
                                      humidityWord: SensirionWireFormat.word(50.0 / 100 * 65535)),
            status: Self.powerUpStatus))
    }

    // MARK: - Test controls

    /// Sets what the chip measures from now on, encoded with the datasheet's formulas (section
    /// 4.13) and limited to what 16 bits can carry (−45…130 °C, 0…100 %RH).
    public func setEnvironment(temperature: Temperature, humidity: RelativeHumidity) {
        let t = SensirionWireFormat.temperatureWord(celsius: temperature.celsius)
        let h = SensirionWireFormat.word(humidity.percent / 100 * 65535)
        setRaw(temperature: t, humidity: h)
    }

    /// Sets the raw 16-bit words the chip reports, for tests of the conversion.
    public func setRaw(temperature: UInt16, humidity: UInt16) {
        state.withLock { $0.signals.temperatureWord = temperature; $0.signals.humidityWord = humidity }
    }

    /// Corrupts the CRC of the next measurement or status reply (once).
    public func injectChecksumFault(_ fault: SensirionChecksumFault) {
        state.withLock { $0.signals.fault = fault }
    }

    /// While `true`, no measurement ever finishes: every read of a result is NACKed (a hung chip).
    public func setStalled(_ stalled: Bool) {
        state.withLock { $0.signals.stalled = stalled }
    }

    /// The status register as the chip holds it now.
    public var statusRegister: UInt16 { state.withLock { $0.status } }

    /// Whether the heater is on (status bit 13).
    public var isHeaterOn: Bool { statusRegister & Self.heaterBit != 0 }

    /// Whether periodic data acquisition (or ART) is running.
    public var isPeriodic: Bool { state.withLock { $0.periodic != nil } }

    /// Every command the chip received, in order.
    public var receivedCommands: [UInt16] { state.withLock { $0.commands } }

    // MARK: - SimulatedI2CDevice

    /// A write message: a 16-bit command (writes with data, such as alert limits, are not
    /// simulated and set the command-status bit).
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        state.withLock { s in
            guard bytes.count == 2 else {
                s.status |= Self.commandStatusBit
                return
            }
            let command = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
            s.commands.append(command)
            execute(command, in: &s)
        }
    }

    /// A read message: the reply to the last command, or a NACK of the read header.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        let now = ContinuousClock.now
        let result: [UInt8]? = state.withLock { s in
            let pending = s.pending
            s.pending = .nothing
            switch pending {
            case .nothing:
                return nil
            case .status:
                return s.signals.reply([s.status], count: count)
            case .singleShot(let ready):
                guard !s.signals.stalled, now >= ready else {
                    s.pending = pending                 // still measuring: NACK, result stays due
                    return nil
                }
                return s.signals.reply(s.signals.measurement, count: count)
            case .fetch:
                guard !s.signals.stalled, var periodic = s.periodic else { return nil }
                let completed = now < periodic.start + periodic.measurement
                    ? 0 : Int((now - periodic.start - periodic.measurement) / periodic.period) + 1
                guard completed > periodic.delivered else { return nil }
                periodic.delivered = completed          // "the data memory is cleared" (4.6)
                s.periodic = periodic
                return s.signals.reply(s.signals.measurement, count: count)
            }
        }
        guard let result else {
            throw HardwareError(.noAcknowledge, "simulated SHT3x NACKed the read header: no result ready", errno: 6)
        }
        return result
    }

    // MARK: - Datasheet behaviour

    private static let powerUpStatus: UInt16 = 1 << 15 | 1 << 4
    private static let heaterBit: UInt16 = 1 << 13
    private static let commandStatusBit: UInt16 = 1 << 1
    /// The flags that Clear Status Register clears (bits 15, 11, 10, 4; Table 19).
    private static let clearableBits: UInt16 = 1 << 15 | 1 << 11 | 1 << 10 | 1 << 4

    /// Typical measurement durations (datasheet section 2.2): high, medium, low repeatability.
    private static func typicalDuration(_ lsbGroup: Int) -> Duration {
        [Duration.microseconds(12_500), .microseconds(4_500), .microseconds(2_500)][lsbGroup]
    }

    /// Periodic commands (Table 10): MSB → period; LSB → repeatability index.
    private static let periodicCommands: [UInt16: (period: Duration, repeatability: Int)] = {
        let rates: [(UInt8, Duration, [UInt8])] = [
            (0x20, .seconds(2), [0x32, 0x24, 0x2F]),
            (0x21, .seconds(1), [0x30, 0x26, 0x2D]),
            (0x22, .milliseconds(500), [0x36, 0x20, 0x2B]),
            (0x23, .milliseconds(250), [0x34, 0x22, 0x29]),
            (0x27, .milliseconds(100), [0x37, 0x21, 0x2A]),
        ]
        var table: [UInt16: (Duration, Int)] = [:]
        for (msb, period, lsbs) in rates {
            for (index, lsb) in lsbs.enumerated() { table[UInt16(msb) << 8 | UInt16(lsb)] = (period, index) }
        }
        table[0x2B32] = (.milliseconds(250), 0)          // ART: 4 Hz (Table 12)
        return table
    }()

    private func execute(_ command: UInt16, in s: inout State) {
        let now = ContinuousClock.now
        if let periodic = Self.periodicCommands[command] {
            s.periodic = Periodic(start: now, period: periodic.period,
                                  measurement: Self.typicalDuration(periodic.repeatability), delivered: 0)
            s.pending = .nothing
            return
        }
        switch command {
        case 0xE000:                                     // Fetch Data (Table 11)
            s.pending = s.periodic == nil ? .nothing : .fetch
        case 0x3093:                                     // Break (Table 13)
            s.periodic = nil
            s.pending = .nothing
        case 0x30A2:                                     // Soft reset (Table 14): back to power-up state
            s.periodic = nil
            s.pending = .nothing
            s.status = Self.powerUpStatus
        default:
            guard s.periodic == nil else {               // periodic mode takes no other command
                s.status |= Self.commandStatusBit
                return
            }
            executeIdle(command, in: &s, now: now)
        }
    }

    private func executeIdle(_ command: UInt16, in s: inout State, now: ContinuousClock.Instant) {
        switch command {
        case 0x2400: s.pending = .singleShot(ready: now + Self.typicalDuration(0))
        case 0x240B: s.pending = .singleShot(ready: now + Self.typicalDuration(1))
        case 0x2416: s.pending = .singleShot(ready: now + Self.typicalDuration(2))
        case 0x2C06, 0x2C0D, 0x2C10: s.pending = .singleShot(ready: now)     // clock stretching
        case 0x306D: s.status |= Self.heaterBit                               // Table 16
        case 0x3066: s.status &= ~Self.heaterBit
        case 0xF32D: s.pending = .status                                      // Table 17
        case 0x3041: s.status &= ~Self.clearableBits                          // Table 19
        default:
            s.status |= Self.commandStatusBit
            return
        }
        s.status &= ~Self.commandStatusBit
    }
}
