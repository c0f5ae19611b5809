import IoTSDK

/// The CRC-8 that Sensirion's SHT3x and SHT4x append to every 16-bit word they send, and the
/// splitting of a reply into checked words. Shared by the ``SHT3x`` and ``SHT4x`` drivers.
///
/// The checksum is CRC-8 with polynomial 0x31 (x⁸ + x⁵ + x⁴ + 1), initial value 0xFF, no
/// reflection and no final XOR, computed over the two data bytes only (SHT3x-DIS datasheet
/// section 4.12, "Checksum Calculation", table "I2C CRC properties"; SHT4x datasheet section
/// "Checksum Calculation"). Both datasheets give the example CRC(0xBEEF) = 0x92.
public enum SensirionCRC {
    /// The generator polynomial without its x⁸ term.
    public static let polynomial: UInt8 = 0x31
    /// The register's value before the first byte.
    public static let initialValue: UInt8 = 0xFF

    /// The CRC-8 of `bytes` (normally the two bytes of one word, most significant first).
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt8 {
        var crc = initialValue
        for byte in bytes {
            crc ^= byte
            for _ in 0..<8 {
                crc = crc & 0x80 != 0 ? (crc << 1) ^ polynomial : crc << 1
            }
        }
        return crc
    }

    /// The CRC-8 of a 16-bit word sent most significant byte first.
    public static func checksum(word: UInt16) -> UInt8 {
        checksum([UInt8(word >> 8), UInt8(word & 0xFF)])
    }

    /// Splits a reply of `[msb, lsb, crc]` triplets into its words, checking every CRC.
    ///
    /// - Parameters:
    ///   - reply: The bytes read from the chip; its length must be a multiple of 3.
    ///   - chip: The part and where it is, for the error ("SHT31 at 0x44 on i2c-1").
    ///   - what: The names of the words, in order ("temperature", "humidity"), for the error.
    /// - Returns: The words, in the order the chip sent them.
    /// - Throws: `SensorError(.checksumMismatch)` naming the first word whose CRC does not match
    ///   (the reply is then not used at all); `SensorError(.invalidData)` if the reply is not made
    ///   of whole triplets.
    public static func words(in reply: [UInt8], chip: String, what: [String]) throws(SensorError) -> [UInt16] {
        guard reply.count % 3 == 0, reply.count / 3 == what.count else {
            throw SensorError(.invalidData, chip: chip, "expected \(what.count * 3) bytes (\(what.joined(separator: ", ")) with a CRC each), got \(reply.count)")
        }
        var words: [UInt16] = []
        words.reserveCapacity(what.count)
        for (index, name) in what.enumerated() {
            let msb = reply[index * 3], lsb = reply[index * 3 + 1], received = reply[index * 3 + 2]
            let expected = checksum([msb, lsb])
            guard received == expected else {
                throw SensorError(.checksumMismatch, chip: chip,
                    "CRC of the \(name) word 0x\(hex(msb))\(hex(lsb)) is 0x\(hex(received)), expected 0x\(hex(expected)); the value was discarded. "
                    + "Repeated mismatches point to noise on SDA/SCL: check pull-ups, cable length and the bus speed")
            }
            words.append(UInt16(msb) << 8 | UInt16(lsb))
        }
        return words
    }

    /// Two upper-case hex digits.
    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count < 2 ? "0" + digits : digits
    }
}
