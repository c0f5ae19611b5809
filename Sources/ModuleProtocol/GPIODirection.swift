/// A GPIO line's direction: one type for the manifest (`"input"`/`"output"` in
/// `capabilities.gpio`), the hardware broker's decisions and the protocol (`gpioRequest`, where it
/// travels as `wireValue`). The SDK's own `LineDirection` is the app-facing API and stays apart.
public enum GPIODirection: String, Sendable, Hashable, CaseIterable, Codable {
    case input, output

    /// The protocol's byte: 0 input, 1 output.
    public var wireValue: UInt8 { self == .input ? 0 : 1 }

    /// The direction of a protocol byte; nil for any other value.
    public init?(wireValue: UInt8) {
        switch wireValue {
        case 0: self = .input
        case 1: self = .output
        default: return nil
        }
    }
}
