import IoTSDK

// MARK: - From w1_slave text to a checked temperature (pure, no I/O)

extension DS18B20 {
    /// How to treat a scratchpad that holds the power-up value +85 °C.
    public enum PowerOnValueCheck: Sendable, Hashable {
        /// Reject every reading of exactly +85 °C (temperature register 0550h). The default: a
        /// reading that is really 85.0000 °C is rare, a conversion that did not run is common.
        case rejectAlways
        /// Reject +85 °C only while reserved byte 6 still holds its power-up value 0Ch, which a
        /// genuine DS18B20 overwrites when it converts (the kernel's own test, `w1_therm`
        /// `features` bit 1). Lets a genuine part at 85 °C be read; some clones never change
        /// byte 6, and then every 85 °C is rejected anyway. The DS18S20 cannot tell the two
        /// apart (its byte 6 is COUNT_REMAIN), so its power-up value is always rejected.
        case rejectWhenByte6IsPowerOnValue
    }

    /// The checked temperature in a `w1_slave` report.
    ///
    /// In order: the kernel's CRC verdict (`NO` → `.checksumMismatch`), the CRC-8 of the nine
    /// bytes recomputed here (`.checksumMismatch`), an all-zero scratchpad (`.invalidData`: a
    /// shorted or unpowered line passes the CRC), the power-up value +85 °C (`.invalidData`:
    /// the conversion did not run), and the part's measurement range (`.invalidData`; 07FFh,
    /// 127.94 °C, is what a parasite-powered part returns when the conversion lacks power).
    ///
    /// - Parameters:
    ///   - report: the parsed `w1_slave` text.
    ///   - family: the part, which selects the temperature format.
    ///   - powerOnCheck: how to treat +85 °C.
    ///   - chip: names the part in error messages.
    /// - Throws: `SensorError` as above; `QuantityError` cannot occur for values in range.
    public static func temperature(from report: W1SlaveReport, family: W1ThermometerFamily,
                                   powerOnCheck: PowerOnValueCheck = .rejectAlways,
                                   chip: String = "DS18B20") throws(SensorError) -> Temperature {
        let scratchpad = report.scratchpad
        let hex = { (value: UInt8) in W1ThermometerFamily.hex(value) + "h" }
        guard report.kernelCRCMatched else {
            throw SensorError(.checksumMismatch, chip: chip, "the kernel's CRC check of the scratchpad failed (crc=\(hex(report.kernelCRC)) NO, after its retries): noise on the 1-Wire line; check the 4.7 kΩ pull-up from DQ to 3.3 V, the connections and the cable length. The reading was discarded")
        }
        let computed = DallasCRC8.checksum(scratchpad.bytes.prefix(8))
        guard computed == scratchpad.crc, report.kernelCRC == scratchpad.crc else {
            throw SensorError(.checksumMismatch, chip: chip, "scratchpad \(scratchpad) carries CRC \(hex(scratchpad.crc)) but its bytes 0–7 give \(hex(computed)) (the kernel said \(hex(report.kernelCRC))): the data is corrupt and was discarded")
        }
        guard !scratchpad.isAllZero else {
            throw SensorError(.invalidData, chip: chip, "the scratchpad read as all zeros (which passes the CRC): the data line is held low or the sensor lost power during the read; check DQ for a short to GND and the VDD connection")
        }
        let register = scratchpad.temperatureRegister
        let value: Double
        if family.hasProgrammableResolution {
            if register == DS18B20Scratchpad.powerOnTemperatureRegister
                && (powerOnCheck == .rejectAlways || scratchpad.bytes[6] == DS18B20Scratchpad.powerOnReservedByte6) {
                throw powerOnError(chip: chip)
            }
            value = celsius(temperatureRegister: register, resolution: scratchpad.resolution)
        } else {
            if register == DS18B20Scratchpad.ds18s20PowerOnTemperatureRegister {
                throw powerOnError(chip: chip)
            }
            guard let extended = ds18s20Celsius(temperatureRegister: register, countRemain: scratchpad.bytes[6],
                                             countPerDegree: scratchpad.bytes[7]) else {
                throw SensorError(.invalidData, chip: chip, "COUNT_PER_C (scratchpad byte 7) is 0, which a DS18S20 never reports: not a DS18S20 scratchpad")
            }
            value = extended
        }
        guard family.measurementRange.contains(value) else {
            let range = "\(family.measurementRange.lowerBound)…\(family.measurementRange.upperBound) °C"
            if family.hasProgrammableResolution && register == 0x07FF {
                throw SensorError(.invalidData, chip: chip, "the temperature register is 07FFh (127.94 °C), outside \(family.partName)'s range \(range): the conversion lacked power. A parasite-powered sensor needs a strong pull-up during conversion; wire VDD to 3.3 V (3-wire) or check the pull-up")
            }
            throw SensorError(.invalidData, chip: chip, "the scratchpad gives \(value) °C (register \(hex(scratchpad.bytes[1]))\(hex(scratchpad.bytes[0]))), outside \(family.partName)'s range \(range): not a measurement (check power and wiring, or a counterfeit part)")
        }
        do {
            return try Temperature.celsius(value)
        } catch {
            throw SensorError(.invalidData, chip: chip, error.message)
        }
    }

    static func powerOnError(chip: String) -> SensorError {
        SensorError(.invalidData, chip: chip, "the scratchpad still holds the power-up value +85 °C (temperature bytes 50h 05h): the conversion did not run. The sensor was reset or lacked power during conversion; in parasite-power mode (DQ and GND only) it needs a strong pull-up while converting; wire VDD to 3.3 V or check VDD and GND")
    }
}
