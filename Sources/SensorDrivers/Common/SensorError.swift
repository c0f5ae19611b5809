import IoTSDK

/// Errors a driver throws for what the chip said (as opposed to `HardwareError`, which the bus
/// throws for what the kernel said). The message names the chip and what to do.
public struct SensorError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The identity register holds another chip's value: wrong address, or another part.
        case wrongChip
        /// A checksum over data from the chip did not match: the value was not used.
        case checksumMismatch
        /// A setting outside what the chip supports.
        case invalidSetting
        /// The chip did not finish a conversion or reset in the time its datasheet allows.
        case timeout
        /// The chip returned a value its datasheet says cannot occur (or a power-on placeholder).
        case invalidData
        /// The operation needs something this chip or its mode does not have.
        case unsupported
    }

    public var code: Code
    /// The part, e.g. "BME280 at 0x76 on i2c-1".
    public var chip: String
    public var message: String

    public init(_ code: Code, chip: String, _ message: String) {
        self.code = code
        self.chip = chip
        self.message = message
    }

    public var description: String { "\(chip): \(message)" }
}

extension I2CDevice {
    /// "0x76 on i2c-1 [bcm2835 …]", for driver messages.
    public var location: String { "\(address) on \(bus.name)" }
}
