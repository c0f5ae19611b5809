/// What the kernel's `w1_therm` driver prints when `w1_slave` is read (Documentation/w1/slaves/
/// w1_therm.rst): the nine scratchpad bytes it read, the CRC it calculated and whether it
/// matched; then on the second line the scratchpad it *retained* (the last one whose CRC
/// matched, which can be stale) and its temperature in millidegrees:
///
/// ```
/// 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
/// 72 01 4b 46 7f ff 0e 10 57 t=23125
/// ```
///
/// Only the first line is fresh, so the driver uses only it.
public struct W1SlaveReport: Sendable, Hashable {
    /// The bytes of the first line: the scratchpad read now.
    public var scratchpad: DS18B20Scratchpad
    /// The CRC the kernel calculated over bytes 0–7 (`crc=XX`).
    public var kernelCRC: UInt8
    /// Whether the kernel found it equal to byte 8 (`YES`), after its own retries.
    public var kernelCRCMatched: Bool
    /// The `t=` value of the second line in m°C, when present. After a failed CRC it belongs to
    /// data that was not verified; never use it on its own.
    public var reportedMillidegrees: Int?

    public init(scratchpad: DS18B20Scratchpad, kernelCRC: UInt8, kernelCRCMatched: Bool, reportedMillidegrees: Int?) {
        self.scratchpad = scratchpad
        self.kernelCRC = kernelCRC
        self.kernelCRCMatched = kernelCRCMatched
        self.reportedMillidegrees = reportedMillidegrees
    }

    /// Parses the text of `w1_slave`.
    ///
    /// - Throws: `SensorError(.invalidData)` naming what was expected when the text is not in the
    ///   kernel's format (an empty file: the read failed in the kernel).
    public static func parse(_ text: String, chip: String = "1-Wire thermometer") throws(SensorError) -> W1SlaveReport {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else {
            throw SensorError(.invalidData, chip: chip, "w1_slave was empty: the kernel could not read the scratchpad (sensor disconnected or unpowered)")
        }
        let tokens = first.split(separator: " ", omittingEmptySubsequences: true)
        // 9 bytes, ":", "crc=XX", "YES"/"NO"
        guard tokens.count == 12, tokens[9] == ":", tokens[10].hasPrefix("crc="),
              tokens[11] == "YES" || tokens[11] == "NO",
              let kernelCRC = UInt8(tokens[10].dropFirst(4), radix: 16)
        else {
            throw SensorError(.invalidData, chip: chip, "w1_slave's first line is not '<9 hex bytes> : crc=XX YES|NO': '\(first)'")
        }
        var bytes: [UInt8] = []
        for token in tokens[0..<9] {
            guard token.count == 2, let byte = UInt8(token, radix: 16) else {
                throw SensorError(.invalidData, chip: chip, "w1_slave's first line has '\(token)' where a hex byte belongs: '\(first)'")
            }
            bytes.append(byte)
        }
        var millidegrees: Int?
        if lines.count > 1, let last = lines[1].split(separator: " ").last, last.hasPrefix("t=") {
            millidegrees = Int(last.dropFirst(2))
        }
        return W1SlaveReport(scratchpad: try DS18B20Scratchpad(bytes: bytes), kernelCRC: kernelCRC,
                             kernelCRCMatched: tokens[11] == "YES", reportedMillidegrees: millidegrees)
    }
}
