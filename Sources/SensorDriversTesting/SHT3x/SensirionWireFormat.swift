/// How Sensirion's SHT3x and SHT4x put 16-bit words on the wire: most significant byte first,
/// each followed by a CRC-8 (polynomial 0x31, initial value 0xFF, no reflection, no final XOR;
/// SHT3x-DIS datasheet section 4.12). Shared by ``SimulatedSHT3x`` and ``SimulatedSHT4x``.
///
/// This is the chips' side, written from the datasheet's CRC table as a lookup table, independent
/// of the drivers' bitwise implementation, so that each checks the other.
enum SensirionWireFormat {
    /// The CRC-8 of every byte value fed into a register holding zero, for polynomial 0x31.
    private static let table: [UInt8] = (0...255).map { value in
        var register = UInt8(value)
        for _ in 0..<8 { register = (register & 0x80) != 0 ? (register << 1) ^ 0x31 : register << 1 }
        return register
    }

    /// The CRC-8 of a word's two bytes.
    static func crc(_ word: UInt16) -> UInt8 {
        var register: UInt8 = 0xFF
        for byte in [UInt8(word >> 8), UInt8(word & 0xFF)] { register = table[Int(register ^ byte)] }
        return register
    }

    /// `[msb, lsb, crc]` for every word; the CRC of the words at `corrupted` is inverted.
    static func encode(_ words: [UInt16], corrupting corrupted: Set<Int> = []) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, word) in words.enumerated() {
            let checksum = crc(word)
            bytes += [UInt8(word >> 8), UInt8(word & 0xFF), corrupted.contains(index) ? ~checksum : checksum]
        }
        return bytes
    }

    /// The raw temperature word for `celsius`: S = (T + 45) / 175 · (2¹⁶ − 1), rounded and limited
    /// to 16 bits (the inverse of both datasheets' conversion formula).
    static func temperatureWord(celsius: Double) -> UInt16 {
        word((celsius + 45) / 175 * 65535)
    }

    /// A value rounded and limited to 0…65535.
    static func word(_ value: Double) -> UInt16 {
        guard value.isFinite else { return value > 0 ? .max : 0 }
        return UInt16(min(max(value.rounded(), 0), 65535))
    }

    /// The bytes a read of `count` returns when the chip has `reply` ready: the reply, cut short
    /// if the master stops early, and 0xFF (SDA released) past its end.
    static func clip(_ reply: [UInt8], to count: Int) -> [UInt8] {
        count <= reply.count ? Array(reply.prefix(count)) : reply + [UInt8](repeating: 0xFF, count: count - reply.count)
    }
}

/// Which words of a simulated Sensirion chip's next reply get a wrong CRC.
public enum SensirionChecksumFault: Sendable, Hashable {
    /// The first word (temperature, the status word, or the serial number's high word).
    case firstWord
    /// The second word (humidity, or the serial number's low word).
    case secondWord
    /// Both words.
    case bothWords

    var wordIndexes: Set<Int> {
        switch self {
        case .firstWord: [0]
        case .secondWord: [1]
        case .bothWords: [0, 1]
        }
    }
}

/// What a simulated Sensirion chip measures and the faults a test injected, kept inside the
/// chip's locked state.
struct SensirionSignals: Sendable {
    var temperatureWord: UInt16
    var humidityWord: UInt16
    /// Applied to the next reply, then cleared.
    var fault: SensirionChecksumFault?
    /// While set, measurements never finish.
    var stalled = false

    /// The two measurement words, temperature first.
    var measurement: [UInt16] { [temperatureWord, humidityWord] }

    /// The reply carrying `words`, cut to `count` bytes, with the pending fault applied and used up.
    mutating func reply(_ words: [UInt16], count: Int) -> [UInt8] {
        let corrupted = fault?.wordIndexes ?? []
        fault = nil
        return SensirionWireFormat.clip(SensirionWireFormat.encode(words, corrupting: corrupted), to: count)
    }
}
