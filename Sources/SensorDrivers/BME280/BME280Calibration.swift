/// The trimming parameters that Bosch programs into each chip's NVM, read once at start-up.
///
/// The layout and signedness are those of BME280 datasheet section 4.2.2, Table 16 (BMP280
/// datasheet section 3.11.2, Table 17, for dig_T1…dig_P9):
///
/// | registers | parameter | type |
/// |---|---|---|
/// | 0x88/0x89 | dig_T1 | unsigned 16 |
/// | 0x8A…0x8D | dig_T2, dig_T3 | signed 16 |
/// | 0x8E/0x8F | dig_P1 | unsigned 16 |
/// | 0x90…0x9F | dig_P2…dig_P9 | signed 16 |
/// | 0xA1 | dig_H1 | unsigned 8 (BME280) |
/// | 0xE1/0xE2 | dig_H2 | signed 16 (BME280) |
/// | 0xE3 | dig_H3 | unsigned 8 (BME280) |
/// | 0xE4 / 0xE5[3:0] | dig_H4 [11:4] / [3:0] | signed 12 (BME280) |
/// | 0xE5[7:4] / 0xE6 | dig_H5 [3:0] / [11:4] | signed 12 (BME280) |
/// | 0xE7 | dig_H6 | signed 8 (BME280) |
///
/// Words are least significant byte first. dig_H4 and dig_H5 are 12-bit two's-complement values
/// whose sign is bit 7 of the byte that holds bits [11:4] (0xE4 and 0xE6).
public struct BME280Calibration: Sendable, Hashable, Codable {
    public var digT1: UInt16
    public var digT2: Int16
    public var digT3: Int16
    public var digP1: UInt16
    public var digP2: Int16
    public var digP3: Int16
    public var digP4: Int16
    public var digP5: Int16
    public var digP6: Int16
    public var digP7: Int16
    public var digP8: Int16
    public var digP9: Int16
    /// Humidity parameters: all zero on a BMP280, which has none.
    public var digH1: UInt8
    public var digH2: Int16
    public var digH3: UInt8
    public var digH4: Int16
    public var digH5: Int16
    public var digH6: Int8

    /// Creates calibration data from the datasheet's parameters (for tests and worked examples).
    public init(
        digT1: UInt16, digT2: Int16, digT3: Int16,
        digP1: UInt16, digP2: Int16, digP3: Int16, digP4: Int16, digP5: Int16,
        digP6: Int16, digP7: Int16, digP8: Int16, digP9: Int16,
        digH1: UInt8 = 0, digH2: Int16 = 0, digH3: UInt8 = 0, digH4: Int16 = 0, digH5: Int16 = 0, digH6: Int8 = 0
    ) {
        self.digT1 = digT1
        self.digT2 = digT2
        self.digT3 = digT3
        self.digP1 = digP1
        self.digP2 = digP2
        self.digP3 = digP3
        self.digP4 = digP4
        self.digP5 = digP5
        self.digP6 = digP6
        self.digP7 = digP7
        self.digP8 = digP8
        self.digP9 = digP9
        self.digH1 = digH1
        self.digH2 = digH2
        self.digH3 = digH3
        self.digH4 = digH4
        self.digH5 = digH5
        self.digH6 = digH6
    }

    /// Decodes the calibration blocks as read from the chip.
    ///
    /// - Parameters:
    ///   - block00: the 26 bytes calib00…calib25 from 0x88 on (0xA1, dig_H1, is the last).
    ///   - block26: the 7 bytes calib26…calib32 from 0xE1 on (BME280), or `nil` for a BMP280, whose
    ///     humidity parameters are then zero and whose 0xA1 is ignored.
    ///   - chip: the part, for error messages.
    /// - Throws: `SensorError(.invalidData)` when a block has the wrong length, or when dig_T1 or
    ///   dig_P1 is zero: the trimming read as blank (NVM copy not finished, or not a BMx280), and
    ///   the pressure formula would divide by zero.
    public init(block00: [UInt8], block26: [UInt8]?, chip: String = "BME280") throws(SensorError) {
        guard block00.count == BMx280Register.calibration00Count else {
            throw SensorError(.invalidData, chip: chip, "calibration block 0x88…0xA1 has \(block00.count) bytes, expected \(BMx280Register.calibration00Count)")
        }
        if let block26, block26.count != BMx280Register.calibration26Count {
            throw SensorError(.invalidData, chip: chip, "calibration block 0xE1…0xE7 has \(block26.count) bytes, expected \(BMx280Register.calibration26Count)")
        }
        func unsigned(_ i: Int) -> UInt16 { UInt16(block00[i]) | UInt16(block00[i + 1]) << 8 }
        func signed(_ i: Int) -> Int16 { Int16(bitPattern: unsigned(i)) }
        self.init(
            digT1: unsigned(0), digT2: signed(2), digT3: signed(4),
            digP1: unsigned(6), digP2: signed(8), digP3: signed(10), digP4: signed(12), digP5: signed(14),
            digP6: signed(16), digP7: signed(18), digP8: signed(20), digP9: signed(22)
        )
        if let h = block26 {
            digH1 = block00[25]
            digH2 = Int16(bitPattern: UInt16(h[0]) | UInt16(h[1]) << 8)
            digH3 = h[2]
            // Bits [11:4] come from a signed byte, so the 12-bit value keeps its sign.
            digH4 = Int16(Int8(bitPattern: h[3])) * 16 | Int16(h[4] & 0x0F)
            digH5 = Int16(Int8(bitPattern: h[5])) * 16 | Int16(h[4] >> 4)
            digH6 = Int8(bitPattern: h[6])
        }
        guard digT1 != 0, digP1 != 0 else {
            throw SensorError(.invalidData, chip: chip, "calibration reads as blank (dig_T1 = \(digT1), dig_P1 = \(digP1)): the NVM copy had not finished or the part is not a BME280/BMP280; power-cycle it and check the address")
        }
    }
}
