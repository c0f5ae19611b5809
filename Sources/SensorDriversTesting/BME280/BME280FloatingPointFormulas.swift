/// The datasheet's floating-point compensation (BME280 datasheet section 8.1, BMP280 section 8.1),
/// used by ``SimulatedBME280`` to turn physical values into raw ADC values. It reads the
/// calibration from a register file as the datasheet's Table 16 lays it out.
struct BME280FloatingPointFormulas {
    let t1, t2, t3: Double
    let p1, p2, p3, p4, p5, p6, p7, p8, p9: Double
    let h1, h2, h3, h4, h5, h6: Double

    init(registers r: [UInt8]) {
        func u16(_ a: Int) -> Double { Double(UInt16(r[a]) | UInt16(r[a + 1]) << 8) }
        func s16(_ a: Int) -> Double { Double(Int16(bitPattern: UInt16(r[a]) | UInt16(r[a + 1]) << 8)) }
        t1 = u16(0x88); t2 = s16(0x8A); t3 = s16(0x8C)
        p1 = u16(0x8E); p2 = s16(0x90); p3 = s16(0x92); p4 = s16(0x94); p5 = s16(0x96)
        p6 = s16(0x98); p7 = s16(0x9A); p8 = s16(0x9C); p9 = s16(0x9E)
        h1 = Double(r[0xA1])
        h2 = s16(0xE1)
        h3 = Double(r[0xE3])
        // 12-bit signed: bits [11:4] in a signed byte, bits [3:0] in a nibble of 0xE5.
        h4 = Double(Int(Int8(bitPattern: r[0xE4])) * 16 + Int(r[0xE5] & 0x0F))
        h5 = Double(Int(Int8(bitPattern: r[0xE6])) * 16 + Int(r[0xE5] >> 4))
        h6 = Double(Int8(bitPattern: r[0xE7]))
    }

    /// °C and t_fine (truncated to an integer, as the datasheet's code does).
    func temperature(adcT: Int) -> (celsius: Double, fine: Int) {
        let x = Double(adcT)
        let var1 = (x / 16384 - t1 / 1024) * t2
        let var2 = (x / 131_072 - t1 / 8192) * (x / 131_072 - t1 / 8192) * t3
        let sum = var1 + var2
        return (sum / 5120, Int(sum))
    }

    /// Pa; 0 where the datasheet's code avoids a division by zero.
    func pressure(adcP: Int, fine: Int) -> Double {
        var var1 = Double(fine) / 2 - 64000
        var var2 = var1 * var1 * p6 / 32768
        var2 += var1 * p5 * 2
        var2 = var2 / 4 + p4 * 65536
        var1 = (p3 * var1 * var1 / 524_288 + p2 * var1) / 524_288
        var1 = (1 + var1 / 32768) * p1
        guard var1 != 0 else { return 0 }
        var p = 1_048_576 - Double(adcP)
        p = (p - var2 / 4096) * 6250 / var1
        var1 = p9 * p * p / 2_147_483_648
        var2 = p * p8 / 32768
        return p + (var1 + var2 + p7) / 16
    }

    /// %RH, limited to 0…100.
    func humidity(adcH: Int, fine: Int) -> Double {
        var h = Double(fine) - 76800
        h = (Double(adcH) - (h4 * 64 + h5 / 16384 * h)) * (h2 / 65536 * (1 + h6 / 67_108_864 * h * (1 + h3 / 67_108_864 * h)))
        h *= 1 - h1 * h / 524_288
        return min(max(h, 0), 100)
    }
}
