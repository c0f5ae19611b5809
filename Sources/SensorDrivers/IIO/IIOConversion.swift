import IoTSDK

/// The IIO ABI's arithmetic and the known exceptions to its units (pure, no I/O).
public enum IIOConversion {
    /// The processed value of a raw reading: `(raw + offset) × scale` (ABI: `_offset` is added
    /// to `_raw` before scaling by `_scale`). A missing offset is 0 and a missing scale 1.
    public static func processed(raw: Double, offset: Double = 0, scale: Double = 1) -> Double {
        (raw + offset) * scale
    }

    /// A number as IIO prints it: an integer (`23450`, `-12`) or a fixed-point value
    /// (`100.523437500`, `-0.062500000`, `1.000000000`). Nil for anything else.
    public static func parseValue(_ text: String) -> Double? {
        let clean = trimmed(text)
        guard !clean.isEmpty, let value = Double(clean), value.isFinite else { return nil }
        return value
    }

    /// `text` without leading and trailing spaces, tabs, newlines and NULs.
    static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\0" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }
}

/// A kernel driver that reports a channel type in another unit than the ABI's, and the factor
/// that turns its value into the ABI's unit.
public struct IIOUnitCorrection: Sendable, Hashable {
    /// The device's `name` (`bme680`).
    public var deviceName: String
    /// The channel type concerned.
    public var channelType: IIOChannelType
    /// What to multiply the driver's processed value by.
    public var factor: Double
    /// Why, with the source.
    public var reason: String

    public init(deviceName: String, channelType: IIOChannelType, factor: Double, reason: String) {
        self.deviceName = deviceName
        self.channelType = channelType
        self.factor = factor
        self.reason = reason
    }

    /// The deviations known from the kernel's sources.
    public static let knownKernelDeviations: [IIOUnitCorrection] = [
        IIOUnitCorrection(
            deviceName: "bme680", channelType: .humidityRelative, factor: 1000,
            reason: "drivers/iio/chemical/bme680_core.c returns humidity as comp_humidity/1000 (percent), where the ABI says milli percent"),
    ]
}
