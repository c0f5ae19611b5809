/// The Dallas/Maxim 1-Wire CRC-8: polynomial x⁸ + x⁵ + x⁴ + 1, initial value 0, data shifted in
/// least significant bit first (DS18B20 datasheet, "CRC Generation"; Maxim Application Note 27).
///
/// The DS18B20 puts it in byte 8 of its scratchpad over bytes 0–7, and in the last byte of its
/// 64-bit ROM code over the family code and serial number. The CRC of a block *including* its
/// correct CRC byte is 0, which is how ``isValid(_:)`` checks a block.
public enum DallasCRC8 {
    /// x⁸ + x⁵ + x⁴ + 1 with its bits reversed (the register shifts right): 1000 1100.
    static let reflectedPolynomial: UInt8 = 0x8C

    /// The CRC-8 of `bytes`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt8 where Bytes.Element == UInt8 {
        var crc: UInt8 = 0
        for byte in bytes {
            var input = byte
            for _ in 0..<8 {
                let feedback = (crc ^ input) & 1
                crc >>= 1
                if feedback != 0 { crc ^= reflectedPolynomial }
                input >>= 1
            }
        }
        return crc
    }

    /// Whether a block whose last byte is its CRC (a 9-byte scratchpad, an 8-byte ROM code) is
    /// intact. An empty block is not valid.
    public static func isValid(_ block: [UInt8]) -> Bool {
        guard let last = block.last else { return false }
        return checksum(block.dropLast()) == last
    }
}
