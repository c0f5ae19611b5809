/// A 7-bit I2C target address. Addresses the I2C specification reserves (0x00-0x07 for general
/// call, CBUS, high-speed mode and future use; 0x78-0x7F for 10-bit addressing and future use)
/// are rejected, so a typo cannot address the whole bus.
public struct I2CAddress: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    /// The addresses a device may have: 0x08-0x77.
    public static let validRange: ClosedRange<UInt16> = 0x08...0x77

    /// Fails for reserved and out-of-range addresses.
    public init?(rawValue: UInt16) {
        guard Self.validRange.contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Validates an address that comes from input (a flag, a config file). Throws
    /// `.invalidArgument` for reserved and out-of-range addresses, saying which are valid.
    public init(validating value: Int) throws(HardwareError) {
        guard let v = UInt16(exactly: value), let address = I2CAddress(rawValue: v) else {
            throw HardwareError(.invalidArgument, "I2C address \(Self.hex(value)) is \(Self.whyInvalid(value)); device addresses are 0x08-0x77 (7-bit, not shifted: 0xEC on a datasheet is 0x76)")
        }
        self = address
    }

    public static func < (a: I2CAddress, b: I2CAddress) -> Bool { a.rawValue < b.rawValue }

    public var description: String { Self.hex(Int(rawValue)) }

    static func hex(_ value: Int) -> String {
        let digits = String(value, radix: 16, uppercase: false)
        return "0x" + (digits.count < 2 ? "0" + digits : digits)
    }

    private static func whyInvalid(_ value: Int) -> String {
        switch value {
        case 0x00: return "the general call address"
        case 0x01...0x07: return "reserved (CBUS, other bus formats, high-speed mode)"
        case 0x78...0x7B: return "reserved for 10-bit addressing"
        case 0x7C...0x7F: return "reserved for future use"
        default: return "out of the 7-bit range"
        }
    }
}

extension I2CAddress: ExpressibleByIntegerLiteral {
    /// For literals in code (`bus.device(0x76)`). An invalid literal is a programming error caught
    /// by the first run; use `init(validating:)` for addresses that come from input.
    public init(integerLiteral value: UInt16) {
        precondition(Self.validRange.contains(value), "I2C address literal \(I2CAddress.hex(Int(value))) is reserved or out of range (0x08-0x77)")
        self.rawValue = value
    }
}
