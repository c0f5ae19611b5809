import IoTSDK
import Synchronization

/// A Sensirion SHT4x on the simulated I2C bus, written from the datasheet's command table
/// (datasheet "SHT4x", section "Command Overview"): measurements at high, medium and low
/// precision, the six heater commands, the serial number and soft reset. Replies carry the CRC-8
/// that the SHT3x uses too.
///
/// Timing follows the datasheet's typical durations on the real clock: a result is ready 6.9 /
/// 3.7 / 1.3 ms after a measurement command and 1 s / 0.1 s after a heater command; until then,
/// and when no command asked for data, the read header is NACKed (`HardwareError(.noAcknowledge)`).
/// A result is handed out once.
///
/// ```swift
/// let chip = SimulatedSHT4x(serialNumber: 0x1234_5678)
/// chip.setEnvironment(temperature: try .celsius(21.5), humidity: .percent(40))
/// let bus = SimulatedI2CBus(devices: [0x44: chip])
/// ```
public final class SimulatedSHT4x: SimulatedI2CDevice {
    private enum Pending {
        case nothing
        case measurement(ready: ContinuousClock.Instant)
        case serialNumber
    }

    private struct State {
        var signals: SensirionSignals
        var serialNumber: UInt32
        var pending: Pending = .nothing
        var heaterPulses: [UInt8] = []
        var commands: [UInt8] = []
    }

    private let state: Mutex<State>

    /// A chip at 25 °C and 50 %RH with the given serial number.
    public init(serialNumber: UInt32 = 0x0BAD_CAFE) {
        state = Mutex(State(
            signals: SensirionSignals(temperatureWord: SensirionWireFormat.temperatureWord(celsius: 25),
                                      humidityWord: Self.humidityWord(percent: 50)),
            serialNumber: serialNumber))
    }

    // MARK: - Test controls

    /// Sets what the chip measures from now on, encoded with the datasheet's formulas
    /// (S_T = (T + 45) / 175 · 65535, S_RH = (RH + 6) / 125 · 65535) within 16 bits.
    public func setEnvironment(temperature: Temperature, humidity: RelativeHumidity) {
        let t = SensirionWireFormat.temperatureWord(celsius: temperature.celsius)
        let h = Self.humidityWord(percent: humidity.percent)
        setRaw(temperature: t, humidity: h)
    }

    /// Sets the raw 16-bit words the chip reports, for tests of the conversion.
    public func setRaw(temperature: UInt16, humidity: UInt16) {
        state.withLock { $0.signals.temperatureWord = temperature; $0.signals.humidityWord = humidity }
    }

    /// Corrupts the CRC of the next measurement or serial-number reply (once).
    public func injectChecksumFault(_ fault: SensirionChecksumFault) {
        state.withLock { $0.signals.fault = fault }
    }

    /// While `true`, no measurement ever finishes: every read of a result is NACKed (a hung chip).
    public func setStalled(_ stalled: Bool) {
        state.withLock { $0.signals.stalled = stalled }
    }

    /// The heater commands received so far (0x39, 0x32, 0x2F, 0x24, 0x1E, 0x15).
    public var heaterPulses: [UInt8] { state.withLock { $0.heaterPulses } }

    /// Every command received, in order.
    public var receivedCommands: [UInt8] { state.withLock { $0.commands } }

    // MARK: - SimulatedI2CDevice

    /// A write message: a one-byte command. Unknown commands are ignored.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        let now = ContinuousClock.now
        state.withLock { s in
            guard bytes.count == 1 else { return }
            let command = bytes[0]
            s.commands.append(command)
            if let duration = Self.measurementDurations[command] {
                s.pending = .measurement(ready: now + duration)
                if Self.heaterCommands.contains(command) { s.heaterPulses.append(command) }
                return
            }
            switch command {
            case 0x89: s.pending = .serialNumber
            case 0x94: s.pending = .nothing             // soft reset
            default: break
            }
        }
    }

    /// A read message: the pending reply, or a NACK of the read header.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        let now = ContinuousClock.now
        let reply: [UInt8]? = state.withLock { s in
            let words: [UInt16]
            switch s.pending {
            case .nothing:
                return nil
            case .serialNumber:
                words = [UInt16(s.serialNumber >> 16), UInt16(s.serialNumber & 0xFFFF)]
            case .measurement(let ready):
                guard !s.signals.stalled, now >= ready else { return nil }
                words = s.signals.measurement
            }
            s.pending = .nothing
            return s.signals.reply(words, count: count)
        }
        guard let reply else {
            throw HardwareError(.noAcknowledge, "simulated SHT4x NACKed the read header: no result ready", errno: 6)
        }
        return reply
    }

    // MARK: - Datasheet tables

    /// Typical durations until a result is ready: measurements (6.9 / 3.7 / 1.3 ms) and heater
    /// pulses (1 s / 0.1 s, ending with a high-precision measurement).
    private static let measurementDurations: [UInt8: Duration] = [
        0xFD: .microseconds(6_900), 0xF6: .microseconds(3_700), 0xE0: .microseconds(1_300),
        0x39: .seconds(1), 0x32: .milliseconds(100),
        0x2F: .seconds(1), 0x24: .milliseconds(100),
        0x1E: .seconds(1), 0x15: .milliseconds(100),
    ]

    private static let heaterCommands: Set<UInt8> = [0x39, 0x32, 0x2F, 0x24, 0x1E, 0x15]

    private static func humidityWord(percent: Double) -> UInt16 {
        SensirionWireFormat.word((percent + 6) / 125 * 65535)
    }
}
