import IoTSDK
import Synchronization

/// A Microchip MCP9808 on a `SimulatedI2CBus`, modelled on the datasheet's register map
/// (DS20005095, "Register Map"): the pointer byte selects a register, 16-bit registers are written
/// and read most significant byte first, the Resolution register (08h) is one byte; no
/// auto-increment.
///
/// - CONFIG (01h): bits 10-0 (bits 15-11 read 0). Alert Stat. is read-only; Int. Clear reads 0 and
///   releases an interrupt; the lock bits stay set until ``powerCycle()``, and while either is set
///   the limits they guard ignore writes, the alert settings and T_HYST keep their values and SHDN
///   cannot be set.
/// - T_UPPER/T_LOWER/T_CRIT (02h-04h): bits 12-2 stored, the rest read 0.
/// - T_A (05h): the last conversion as 13-bit two's complement (1/16 °C at bit 0, finer bits than the
///   resolution read 0), with the limit flags in bits 15-13.
/// - Manufacturer ID (06h) 0054h, device ID/revision (07h) 0400h, settable for fault injection.
///
/// Each ``setTemperature(_:)`` is one conversion unless the chip is shut down (T_A then keeps the
/// previous value, as the datasheet says); leaving shutdown makes one at once. The alert output follows the "Alert Output Conditions"
/// figure: comparator with T_HYST on release, interrupt latched until Int. Clear, and T_CRIT always
/// acting as a comparator.
public final class SimulatedMCP9808: SimulatedI2CDevice {
    private struct State {
        var pointer: UInt8 = 0
        var config: UInt16 = 0
        var upper: UInt16 = 0
        var lower: UInt16 = 0
        var critical: UInt16 = 0
        var resolution: UInt8 = 0b11
        var ambient: UInt16 = 0
        var environment: Double
        var aboveUpper = false
        var belowLower = false
        var atCritical = false
        var interruptLatched = false
        var asserted = false
        var conversions = 0
        var manufacturerID: UInt16
        var deviceID: UInt16
    }

    private let state: Mutex<State>

    /// A chip in its power-up state that has made its first conversion of `temperature`.
    /// `manufacturerID` and `deviceID` replace the identity registers' values (fault injection).
    public init(temperature: Temperature = Temperature(baseValue: 298.15),
                manufacturerID: UInt16 = 0x0054, deviceID: UInt16 = 0x0400) {
        var initial = State(environment: temperature.celsius, manufacturerID: manufacturerID, deviceID: deviceID)
        Self.convert(&initial)
        state = Mutex(initial)
    }

    // MARK: - Environment and faults

    /// Sets the ambient temperature; one conversion unless the chip is shut down.
    public func setTemperature(_ temperature: Temperature) {
        state.withLock { s in
            s.environment = temperature.celsius
            if s.config & 0x0100 == 0 { Self.convert(&s) }
        }
    }

    /// Power-on reset: every register to its power-up value (T_A reads 0000h until the next
    /// ``setTemperature(_:)``), locks cleared.
    public func powerCycle() {
        state.withLock { s in
            s = State(environment: s.environment, manufacturerID: s.manufacturerID, deviceID: s.deviceID)
        }
    }

    // MARK: - Inspection

    /// CONFIG as it reads.
    public var configRegister: UInt16 { state.withLock { Self.configValue($0) } }
    /// The Resolution register.
    public var resolutionRegister: UInt8 { state.withLock { $0.resolution } }
    /// T_UPPER, T_LOWER, T_CRIT.
    public var limitRegisters: (upper: UInt16, lower: UInt16, critical: UInt16) {
        state.withLock { ($0.upper, $0.lower, $0.critical) }
    }
    /// T_A as it reads (temperature and flags).
    public var ambientRegister: UInt16 { state.withLock { Self.ambientValue($0) } }
    /// Whether the open-drain alert output pulls low.
    public var alertPinIsLow: Bool {
        state.withLock { s in s.config & 0x0002 != 0 ? !s.asserted : s.asserted }
    }
    /// Conversions made so far.
    public var conversions: Int { state.withLock { $0.conversions } }

    // MARK: - Bus

    /// A write message: the pointer byte, then the register's bytes, most significant first.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        guard let pointer = bytes.first else { return }
        state.withLock { s in
            s.pointer = pointer & 0x0F
            if s.pointer == 0x08 {
                if bytes.count >= 2 { s.resolution = bytes[1] & 0b11 }
                return
            }
            guard bytes.count >= 3 else { return }
            let value = UInt16(bytes[1]) << 8 | UInt16(bytes[2])
            let windowLocked = s.config & 0x0040 != 0
            let criticalLocked = s.config & 0x0080 != 0
            switch s.pointer {
            case 0x01: Self.writeConfig(value, &s)
            case 0x02 where !windowLocked: s.upper = value & 0x1FFC; Self.evaluate(&s)
            case 0x03 where !windowLocked: s.lower = value & 0x1FFC; Self.evaluate(&s)
            case 0x04 where !criticalLocked: s.critical = value & 0x1FFC; Self.evaluate(&s)
            default: break
            }
        }
    }

    /// A read message: the pointed-to register, most significant byte first (repeated past its width).
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            let bytes: [UInt8]
            switch s.pointer {
            case 0x08: bytes = [s.resolution]
            default:
                let value: UInt16 = switch s.pointer {
                case 0x01: Self.configValue(s)
                case 0x02: s.upper
                case 0x03: s.lower
                case 0x04: s.critical
                case 0x05: Self.ambientValue(s)
                case 0x06: s.manufacturerID
                case 0x07: s.deviceID
                default: 0
                }
                bytes = [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return (0..<count).map { bytes[$0 % bytes.count] }
        }
    }

    // MARK: - Model

    private static func writeConfig(_ value: UInt16, _ s: inout State) {
        let old = s.config
        let locked = old & 0x00C0 != 0
        var new = value & 0x07CF                          // bits 10-6 and 3-0; Int. Clear and Alert Stat. are not stored
        new |= old & 0x00C0                               // locks stay set until power-on reset
        if locked {
            new = new & ~0x060F | old & 0x060F            // T_HYST and alert settings frozen
            if old & 0x0100 == 0 { new &= ~0x0100 }       // SHDN cannot be set
        }
        s.config = new
        if value & 0x0020 != 0 { s.interruptLatched = false }
        if old & 0x0100 != 0 && new & 0x0100 == 0 {
            convert(&s)                                   // waking up starts a conversion
        } else {
            evaluate(&s)
        }
    }

    private static func configValue(_ s: State) -> UInt16 {
        s.config | (s.asserted ? 0x0010 : 0)
    }

    private static func ambientValue(_ s: State) -> UInt16 {
        let temperature = steps(s.ambient)
        var flags: UInt16 = 0
        if temperature >= steps(s.critical) { flags |= 0x8000 }
        if temperature > steps(s.upper) { flags |= 0x4000 }
        if temperature < steps(s.lower) { flags |= 0x2000 }
        return flags | s.ambient
    }

    /// A 13-bit two's-complement register value in 1/16 °C.
    private static func steps(_ raw: UInt16) -> Int {
        Int(Int16(bitPattern: raw << 3) >> 3)
    }

    /// One conversion: quantise to the resolution, then evaluate the alert conditions.
    private static func convert(_ s: inout State) {
        let sixteenths = Int((s.environment * 16 + 1e-9).rounded(.down))
        let dropped = 3 - Int(s.resolution)               // 0.0625 °C keeps all four fraction bits
        let quantised = min(max((sixteenths >> dropped) << dropped, -4096), 4095)
        s.ambient = UInt16(bitPattern: Int16(quantised)) & 0x1FFF
        s.conversions += 1
        evaluate(&s)
    }

    /// The alert conditions of T_A against the limits, as a conversion evaluates them; the model
    /// also evaluates them when limits or CONFIG change, standing in for the next conversion.
    private static func evaluate(_ s: inout State) {
        guard s.config & 0x0100 == 0 else { return }      // no comparisons in shutdown
        let hysteresis = [0, 24, 48, 96][Int(s.config >> 9 & 0b11)]   // 0, 1.5, 3, 6 °C in 1/16 °C
        let t = steps(s.ambient), upper = steps(s.upper), lower = steps(s.lower), critical = steps(s.critical)
        let wasWindow = s.aboveUpper || s.belowLower
        s.aboveUpper = s.aboveUpper ? t > upper - hysteresis : t > upper
        s.belowLower = s.belowLower ? t < lower : t < lower - hysteresis
        s.atCritical = s.atCritical ? t >= critical - hysteresis : t >= critical
        if wasWindow != (s.aboveUpper || s.belowLower) { s.interruptLatched = true }
        updateOutput(&s)
    }

    private static func updateOutput(_ s: inout State) {
        guard s.config & 0x0100 == 0 else { return }      // Alert Stat. frozen in shutdown
        guard s.config & 0x0008 != 0 else {
            s.asserted = false
            return
        }
        if s.config & 0x0004 != 0 {
            s.asserted = s.atCritical
        } else if s.config & 0x0001 != 0 {
            s.asserted = s.interruptLatched || s.atCritical
        } else {
            s.asserted = s.aboveUpper || s.belowLower || s.atCritical
        }
    }
}
