/// The 1-Wire thermometers that the kernel's `w1_therm` driver serves, by family code (the low
/// byte of the 64-bit ROM code, the `28` of `28-0316a2795dff`).
///
/// All of them are read by the ``DS18B20`` driver: the DS1822, DS1825 and DS28EA00 share the
/// DS18B20's scratchpad and 12-bit temperature format; the DS18S20 has a 9-bit register plus
/// COUNT_REMAIN/COUNT_PER_C bytes, converted by ``DS18B20/ds18s20Celsius(temperatureRegister:countRemain:countPerDegree:)``.
public enum W1ThermometerFamily: UInt8, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// DS18S20 (and the older DS1820): 9-bit, extended resolution through COUNT_REMAIN; no
    /// configurable resolution.
    case ds18s20 = 0x10
    /// DS1822 "Econo" thermometer: DS18B20 format, ±2 °C.
    case ds1822 = 0x22
    /// DS18B20: 9–12-bit programmable resolution, −55…+125 °C.
    case ds18b20 = 0x28
    /// DS1825: DS18B20 format plus 4 address pins (AD0–AD3) in the configuration register.
    case ds1825 = 0x3B
    /// DS28EA00: DS18B20 format with sequence-detect pins.
    case ds28ea00 = 0x42

    /// The part number.
    public var partName: String {
        switch self {
        case .ds18s20: return "DS18S20"
        case .ds1822: return "DS1822"
        case .ds18b20: return "DS18B20"
        case .ds1825: return "DS1825"
        case .ds28ea00: return "DS28EA00"
        }
    }

    /// Whether the scratchpad holds the DS18B20's 12-bit format with resolution bits R1/R0 in the
    /// configuration register (every family but the DS18S20).
    public var hasProgrammableResolution: Bool { self != .ds18s20 }

    /// The temperatures the part can measure, in °C, from its datasheet's electrical
    /// characteristics. A converted value outside this range is not a measurement.
    public var measurementRange: ClosedRange<Double> {
        switch self {
        case .ds28ea00: return -40...85
        default: return -55...125
        }
    }

    public var description: String {
        "\(partName) (family 0x\(Self.hex(rawValue)))"
    }

    /// What a family code that is not a thermometer belongs to, for error messages.
    static func otherPart(_ family: UInt8) -> String {
        switch family {
        case 0x01: return "a DS2401/DS1990A serial number"
        case 0x05: return "a DS2405 addressable switch"
        case 0x12: return "a DS2406 switch"
        case 0x1D: return "a DS2423 counter"
        case 0x20: return "a DS2450 A/D converter"
        case 0x26: return "a DS2438 battery monitor"
        case 0x29: return "a DS2408 8-channel switch"
        case 0x2D: return "a DS2431 1-Kbit EEPROM"
        case 0x3A: return "a DS2413 2-channel switch"
        default: return "an unknown 1-Wire part"
        }
    }

    static func hex(_ value: UInt8) -> String {
        hexDigits(value, width: 2)
    }
}
