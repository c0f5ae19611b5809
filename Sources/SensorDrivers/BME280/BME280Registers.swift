/// The register map that the BME280 and the BMP280 share (BME280 datasheet section 5.3, Table 18;
/// BMP280 datasheet section 4.2), and the bits the drivers use.
///
/// The BME280 is register compatible with the BMP280 except for the chip id, the standby codes
/// 110/111 (BME280 datasheet section 5.2, Table 17) and the humidity registers it adds
/// (`ctrl_hum`, `calib26…calib41`, `hum_msb`/`hum_lsb`).
enum BMx280Register {
    /// calib00…calib25: dig_T1…dig_P9, a reserved byte, and (BME280 only) dig_H1 at 0xA1.
    static let calibration00: UInt8 = 0x88
    static let calibration00Count = 26
    /// "id": 0x60 on the BME280, 0x58 on the BMP280 (0x56/0x57 on BMP280 samples).
    static let id: UInt8 = 0xD0
    /// "reset": writing 0xB6 runs the complete power-on-reset procedure.
    static let reset: UInt8 = 0xE0
    /// calib26…calib32 (BME280 only): dig_H2…dig_H6. calib33…calib41 are not used.
    static let calibration26: UInt8 = 0xE1
    static let calibration26Count = 7
    /// "ctrl_hum" (BME280 only): osrs_h[2:0]; takes effect at the next write of ctrl_meas.
    static let controlHumidity: UInt8 = 0xF2
    /// "status": measuring[0] in bit 3, im_update[0] in bit 0.
    static let status: UInt8 = 0xF3
    /// "ctrl_meas": osrs_t[2:0] in bits 7:5, osrs_p[2:0] in bits 4:2, mode[1:0] in bits 1:0.
    static let controlMeasurement: UInt8 = 0xF4
    /// "config": t_sb[2:0] in bits 7:5, filter[2:0] in bits 4:2, spi3w_en in bit 0.
    static let config: UInt8 = 0xF5
    /// press_msb, the first of the data registers: press (0xF7…0xF9), temp (0xFA…0xFC) and,
    /// on the BME280, hum (0xFD…0xFE).
    static let data: UInt8 = 0xF7

    /// The word that starts a soft reset.
    static let resetCommand: UInt8 = 0xB6

    /// status bit 3: a conversion is running.
    static let statusMeasuring: UInt8 = 0b0000_1000
    /// status bit 0: the NVM data are being copied to the image registers.
    static let statusImageUpdate: UInt8 = 0b0000_0001

    /// mode[1:0] values (BME280 datasheet Table 25; BMP280 section 3.6). 10 is forced mode too.
    static let modeSleep: UInt8 = 0b00
    static let modeForced: UInt8 = 0b01
    static let modeNormal: UInt8 = 0b11

    /// The value a data register holds when its measurement was skipped or has not run since
    /// reset (Table 18 reset states, osrs tables): 0x80000 for temperature and pressure.
    static let skippedTemperatureOrPressure: Int32 = 0x80000
    /// The same for humidity: 0x8000.
    static let skippedHumidity: Int32 = 0x8000
}
