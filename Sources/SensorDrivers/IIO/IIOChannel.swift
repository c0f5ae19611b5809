import LinuxSupport
import IoTSDK

/// One input channel of an IIO device, as its sysfs attribute names describe it
/// (`in_<type>[<index>][-<type><index>][_<modifier>]_<info>`, Documentation/ABI/testing/
/// sysfs-bus-iio and the kernel's `iio_device_add_info_mask_type`).
///
/// A channel exists when it has a `_raw` or an `_input` attribute. Its scale and offset may be
/// its own (`in_voltage0_scale`) or shared by every channel of its type (`in_voltage_scale`),
/// by every input (`in_scale`) or by the whole device (`scale`); ``scaleAttribute`` and
/// ``offsetAttribute`` name the file that applies, most specific first.
public struct IIOChannel: Sendable, Hashable, CustomStringConvertible {
    /// The channel's name as it appears in its attributes: `temp`, `voltage0`, `accel_x`,
    /// `voltage0-voltage1`, `intensity_both`.
    public let name: String
    /// The channel type.
    public let type: IIOChannelType
    /// The channel number (`0` in `voltage0`), when indexed.
    public let index: Int?
    /// For a differential channel (`voltage0-voltage1`), the second input's number.
    public let differentialIndex: Int?
    /// The modifier or extended name after the type (`x` in `accel_x`, `ambient` in `temp_ambient`).
    public let modifier: String?
    /// The processed-value attribute (`in_temp_input`), when the driver has one.
    public let inputAttribute: String?
    /// The raw attribute (`in_voltage0_raw`), when the driver has one.
    public let rawAttribute: String?
    /// The scale attribute that applies to the raw value, when there is one.
    public let scaleAttribute: String?
    /// The offset attribute that applies to the raw value, when there is one.
    public let offsetAttribute: String?

    /// Whether a read uses `_input` (processed by the kernel) rather than `_raw`, `_offset` and `_scale`.
    public var isProcessed: Bool { inputAttribute != nil }

    public var description: String { "\(name) (\(type))" }

    // MARK: - Parsing attribute names (pure)

    /// The parts of a channel name, or nil when it is not one (`voltage-voltage`, empty).
    public static func parse(channelName name: String) -> (type: IIOChannelType, index: Int?, differentialIndex: Int?, modifier: String?)? {
        var rest = Substring(name)
        let typeName = rest.prefix { $0 >= "a" && $0 <= "z" }
        guard let type = IIOChannelType(rawValue: String(typeName)) else { return nil }
        rest = rest.dropFirst(typeName.count)
        let indexDigits = rest.prefix { $0.isASCII && $0.isNumber }
        let index = indexDigits.isEmpty ? nil : Int(indexDigits)
        rest = rest.dropFirst(indexDigits.count)
        var differentialIndex: Int?
        if rest.first == "-" {
            // voltage0-voltage1: the second input's type must match, with a number.
            rest = rest.dropFirst()
            guard rest.hasPrefix(type.rawValue), index != nil else { return nil }
            rest = rest.dropFirst(type.rawValue.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let second = Int(digits) else { return nil }
            differentialIndex = second
            rest = rest.dropFirst(digits.count)
        }
        var modifier: String?
        if !rest.isEmpty {
            guard rest.first == "_", rest.count > 1 else { return nil }
            modifier = String(rest.dropFirst())
        }
        return (type, index, differentialIndex, modifier)
    }

    /// The suffixes that describe a channel's data and calibration.
    enum Info: String, CaseIterable {
        case raw, input, scale, offset
    }

    /// Splits `in_voltage0_raw` into (`voltage0`, `.raw`); nil for other attributes
    /// (`sampling_frequency`, `in_voltage0_scale_available`, `in_accel_x_peak_raw`, outputs).
    static func splitAttribute(_ file: String) -> (channel: String, info: Info)? {
        guard file.hasPrefix("in_") else { return nil }
        for info in Info.allCases where file.hasSuffix("_" + info.rawValue) {
            let channel = String(file.dropFirst(3).dropLast(info.rawValue.count + 1))
            // Peak, trough and mean values are extra views of a channel, not channels.
            if ["_peak", "_trough", "_mean"].contains(where: { channel.hasSuffix($0) }) { return nil }
            return (channel, info)
        }
        return nil
    }

    /// The channels described by a device directory's file names, sorted by name.
    public static func channels(inAttributes files: [String]) -> [IIOChannel] {
        let present = Set(files)
        var byChannel: [String: Set<Info>] = [:]
        for file in files {
            guard let (channel, info) = splitAttribute(file) else { continue }
            byChannel[channel, default: []].insert(info)
        }
        var channels: [IIOChannel] = []
        for (name, infos) in byChannel where infos.contains(.raw) || infos.contains(.input) {
            guard let parts = parse(channelName: name) else { continue }
            // Shared by type: in_voltage_scale, or in_voltage-voltage_scale for differential channels.
            let typeShared = parts.differentialIndex == nil ? parts.type.rawValue : parts.type.rawValue + "-" + parts.type.rawValue
            let find = { (info: Info) -> String? in
                ["in_\(name)_\(info.rawValue)", "in_\(typeShared)_\(info.rawValue)", "in_\(info.rawValue)", info.rawValue]
                    .first { present.contains($0) }
            }
            channels.append(IIOChannel(
                name: name, type: parts.type, index: parts.index, differentialIndex: parts.differentialIndex,
                modifier: parts.modifier,
                inputAttribute: infos.contains(.input) ? "in_\(name)_input" : nil,
                rawAttribute: infos.contains(.raw) ? "in_\(name)_raw" : nil,
                scaleAttribute: find(.scale), offsetAttribute: find(.offset)))
        }
        return channels.sorted { Files.naturalOrder($0.name, $1.name) }
    }
}
