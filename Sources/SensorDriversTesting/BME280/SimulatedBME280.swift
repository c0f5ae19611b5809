import IoTSDK
import Synchronization

/// A Bosch BME280 (or, as ``Variant/bmp280``, a BMP280) on a `SimulatedI2CBus`, written from the
/// datasheets' register maps (BME280 BST-BME280-DS002 section 5; BMP280 BST-BMP280-DS001 section 4).
///
/// What it models:
/// - the identity register 0xD0 (0x60, or 0x58 for the BMP280; ``chipID`` can be set to anything,
///   to inject a wrong part);
/// - the calibration registers 0x88…0xA1 and 0xE1…0xF0, read-only;
/// - soft reset (0xE0 ← 0xB6): control registers and data registers return to their reset values
///   and status.im_update reads 1 for ``statusReadsWhileCopyingNVM`` status reads;
/// - ctrl_hum (0xF2, BME280 only), whose osrs_h takes effect only at the next write of ctrl_meas
///   (section 5.4.3);
/// - ctrl_meas (0xF4): mode 01/10 runs one forced conversion, during which status.measuring reads
///   1 for ``statusReadsWhileMeasuring`` status reads; then the data registers take the new values
///   and the mode returns to sleep. Mode 11 (normal) converts at once and again whenever the
///   environment changes;
/// - config (0xF5), whose writes are ignored in normal mode (section 5.4.6);
/// - the data registers 0xF7…0xFE, with 0x80000 (0x8000 for humidity) for skipped measurements;
/// - reads that auto-increment the register address, and writes as register address/data pairs
///   (section 6.2.1).
///
/// Not modelled: conversion timing (a conversion ends after status reads, not after time), the
/// IIR filter, and the resolution that oversampling adds (all 20 bits are always delivered).
///
/// Physical values go in through ``setEnvironment(temperature:pressure:humidity:)``, which finds the
/// raw ADC values whose compensation with the chip's calibration (the datasheet's floating-point
/// formulas, BME280 section 8.1) gives them; ``setRawSamples(temperature:pressure:humidity:)``
/// sets the raw values directly.
public final class SimulatedBME280: SimulatedI2CDevice {
    /// Which part to be.
    public enum Variant: Sendable, Hashable {
        /// Humidity, pressure, temperature; chip id 0x60.
        case bme280
        /// Pressure, temperature; chip id 0x58; no ctrl_hum, no humidity registers.
        case bmp280

        /// The value of register 0xD0 (BMP280 samples read 0x56 or 0x57; set ``chipID`` for those).
        public var chipID: UInt8 { self == .bme280 ? 0x60 : 0x58 }
    }

    /// What a driver must read from ``datasheetExampleRegisters``.
    public struct ExpectedReading: Sendable, Hashable {
        /// 25.08 °C: the BMP280 datasheet's section 3.12 example (integer formula: 2508).
        public let temperatureCelsius: Double
        /// The 64-bit integer formula's 25767233 / 256 = 100653.25390625 Pa (the datasheet's
        /// floating-point example gives 100653.27 Pa).
        public let pressurePascals: Double
        /// The 32-bit integer formula's 51204 / 1024 = 50.00390625 %RH (floating point: 50.0011).
        public let humidityPercent: Double
    }

    /// A chip at rest after a finished conversion, with the BMP280 datasheet's worked example
    /// (section 3.12: dig_T1…dig_P9, adc_T = 519888, adc_P = 415148) and humidity trimming chosen
    /// for this SDK (the datasheets publish no humidity example): dig_H1 = 75, dig_H2 = 370,
    /// dig_H3 = 0, dig_H4 = 313, dig_H5 = 50, dig_H6 = 30, adc_H = 28909.
    ///
    /// It holds the chip id (0xD0 = 0x60), both calibration blocks (0x88…0xA1, 0xE1…0xE7), the data
    /// registers (0xF7…0xFE) and status (0xF3 = 0x00). Preload it into i2c-stub at 0x76 for the
    /// QEMU lab, or into this model; a driver must then read ``datasheetExampleReading``.
    public static let datasheetExampleRegisters: [UInt8: UInt8] = [
        // calib00…calib25: dig_T1 = 27504, dig_T2 = 26435, dig_T3 = -1000, dig_P1 = 36477,
        // dig_P2 = -10685, dig_P3 = 3024, dig_P4 = 2855, dig_P5 = 140, dig_P6 = -7, dig_P7 = 15500,
        // dig_P8 = -14600, dig_P9 = 6000 (LSB first); 0xA0 reserved; 0xA1 dig_H1 = 75.
        0x88: 0x70, 0x89: 0x6B, 0x8A: 0x43, 0x8B: 0x67, 0x8C: 0x18, 0x8D: 0xFC,
        0x8E: 0x7D, 0x8F: 0x8E, 0x90: 0x43, 0x91: 0xD6, 0x92: 0xD0, 0x93: 0x0B,
        0x94: 0x27, 0x95: 0x0B, 0x96: 0x8C, 0x97: 0x00, 0x98: 0xF9, 0x99: 0xFF,
        0x9A: 0x8C, 0x9B: 0x3C, 0x9C: 0xF8, 0x9D: 0xC6, 0x9E: 0x70, 0x9F: 0x17,
        0xA0: 0x00, 0xA1: 0x4B,
        // id
        0xD0: 0x60,
        // calib26…calib32: dig_H2 = 370 (0x0172), dig_H3 = 0, dig_H4 = 313 (0x139: 0xE4 = 0x13,
        // 0xE5[3:0] = 0x9), dig_H5 = 50 (0x032: 0xE5[7:4] = 0x2, 0xE6 = 0x03), dig_H6 = 30.
        0xE1: 0x72, 0xE2: 0x01, 0xE3: 0x00, 0xE4: 0x13, 0xE5: 0x29, 0xE6: 0x03, 0xE7: 0x1E,
        // status: not measuring, no NVM copy.
        0xF3: 0x00,
        // press = 0x655AC (415148), temp = 0x7EED0 (519888), hum = 0x70ED (28909).
        0xF7: 0x65, 0xF8: 0x5A, 0xF9: 0xC0, 0xFA: 0x7E, 0xFB: 0xED, 0xFC: 0x00, 0xFD: 0x70, 0xFE: 0xED,
    ]

    /// The reading that ``datasheetExampleRegisters`` must give with the datasheet's integer
    /// compensation: 25.08 °C, 100653.25390625 Pa, 50.00390625 %RH.
    public static let datasheetExampleReading = ExpectedReading(
        temperatureCelsius: 25.08, pressurePascals: 25_767_233.0 / 256, humidityPercent: 51_204.0 / 1024
    )

    // MARK: - Registers (datasheet section 5.3, Table 18)

    private enum Register {
        static let id: UInt8 = 0xD0
        static let reset: UInt8 = 0xE0
        static let controlHumidity: UInt8 = 0xF2
        static let status: UInt8 = 0xF3
        static let controlMeasurement: UInt8 = 0xF4
        static let config: UInt8 = 0xF5
        static let pressMSB: UInt8 = 0xF7
        static let calibration00: ClosedRange<UInt8> = 0x88...0xA1
        static let calibration26: ClosedRange<UInt8> = 0xE1...0xF0
        static let data: ClosedRange<UInt8> = 0xF7...0xFE
    }

    private struct State {
        var variant: Variant
        var registers: [UInt8]
        var pointer: UInt8 = 0
        var chipID: UInt8
        /// The raw values the next conversion produces.
        var rawTemperature: UInt32
        var rawPressure: UInt32
        var rawHumidity: UInt16
        /// osrs_h as latched by the last write of ctrl_meas.
        var effectiveHumidityOversampling: UInt8 = 0
        var conversionPending = false
        var measuringReadsLeft = 0
        var imageUpdateReadsLeft = 0
        var statusReadsWhileMeasuring = 0
        var statusReadsWhileCopyingNVM = 1
        var conversionHangs = false
        var nvmCopyHangs = false
        var forcedConversions = 0
        var resets = 0
    }

    private let state: Mutex<State>

    /// Creates a chip whose register file holds `registers` (by default
    /// ``datasheetExampleRegisters``), with 0xD0 set to the variant's chip id. The raw values that
    /// conversions produce start as those in the data registers 0xF7…0xFE.
    public init(variant: Variant = .bme280, registers: [UInt8: UInt8] = SimulatedBME280.datasheetExampleRegisters) {
        var file = [UInt8](repeating: 0, count: 256)
        for (register, value) in registers { file[Int(register)] = value }
        file[Int(Register.id)] = variant.chipID
        let base = Int(Register.pressMSB)
        let pressure = UInt32(file[base]) << 12 | UInt32(file[base + 1]) << 4 | UInt32(file[base + 2]) >> 4
        let temperature = UInt32(file[base + 3]) << 12 | UInt32(file[base + 4]) << 4 | UInt32(file[base + 5]) >> 4
        let humidity = UInt16(file[base + 6]) << 8 | UInt16(file[base + 7])
        state = Mutex(State(variant: variant, registers: file, chipID: variant.chipID,
                            rawTemperature: temperature, rawPressure: pressure, rawHumidity: humidity))
    }

    // MARK: - Test controls

    /// The value register 0xD0 reads: set another value to simulate a wrong part.
    public var chipID: UInt8 {
        get { state.withLock { $0.chipID } }
        set { state.withLock { $0.chipID = newValue } }
    }

    /// How many status reads show `measuring` = 1 after a forced conversion starts (default 0:
    /// the conversion has finished by the first status read).
    public var statusReadsWhileMeasuring: Int {
        get { state.withLock { $0.statusReadsWhileMeasuring } }
        set { state.withLock { $0.statusReadsWhileMeasuring = max(0, newValue) } }
    }

    /// How many status reads show `im_update` = 1 after a soft reset (default 1).
    public var statusReadsWhileCopyingNVM: Int {
        get { state.withLock { $0.statusReadsWhileCopyingNVM } }
        set { state.withLock { $0.statusReadsWhileCopyingNVM = max(0, newValue) } }
    }

    /// Fault injection: forced conversions never finish (`measuring` stays 1).
    public var conversionHangs: Bool {
        get { state.withLock { $0.conversionHangs } }
        set { state.withLock { $0.conversionHangs = newValue } }
    }

    /// Fault injection: the NVM copy after a reset never finishes (`im_update` stays 1).
    public var nvmCopyHangs: Bool {
        get { state.withLock { $0.nvmCopyHangs } }
        set { state.withLock { $0.nvmCopyHangs = newValue } }
    }

    /// The register file as the chip holds it, without the side effects of a bus read.
    public subscript(register: UInt8) -> UInt8 {
        state.withLock { Self.peek($0, register) }
    }

    /// osrs_h as the last write of ctrl_meas latched it (0 = humidity skipped).
    public var effectiveHumidityOversampling: UInt8 { state.withLock { $0.effectiveHumidityOversampling } }

    /// How many forced conversions have finished.
    public var forcedConversionCount: Int { state.withLock { $0.forcedConversions } }

    /// How many soft resets the chip has seen.
    public var resetCount: Int { state.withLock { $0.resets } }

    /// Sets the raw ADC values that the next conversion delivers (20 bits for temperature and
    /// pressure; higher bits are dropped). In normal mode the data registers update at once.
    public func setRawSamples(temperature: UInt32, pressure: UInt32, humidity: UInt16) {
        state.withLock { s in
            s.rawTemperature = temperature & 0xFFFFF
            s.rawPressure = pressure & 0xFFFFF
            s.rawHumidity = humidity
            if Self.mode(s) == 0b11 { Self.storeConversion(&s) }
        }
    }

    /// Sets the conditions the chip measures: finds the raw values whose compensation with the
    /// chip's current calibration gives them, with the datasheet's floating-point formulas
    /// (BME280 section 8.1). Values beyond what the ADC can express saturate. A BMP280 ignores
    /// `humidity`.
    public func setEnvironment(temperature: Temperature, pressure: Pressure, humidity: RelativeHumidity = .percent(50)) {
        state.withLock { s in
            let c = BME280FloatingPointFormulas(registers: s.registers)
            let adcT = Self.invert(0...0xFFFFF, target: temperature.celsius) { c.temperature(adcT: $0).celsius }
            let fine = c.temperature(adcT: adcT).fine
            let adcP = Self.invert(0...0xFFFFF, target: pressure.pascals) { c.pressure(adcP: $0, fine: fine) }
            let adcH = Self.invert(0...0xFFFF, target: humidity.percent) { c.humidity(adcH: $0, fine: fine) }
            s.rawTemperature = UInt32(adcT)
            s.rawPressure = UInt32(adcP)
            s.rawHumidity = UInt16(adcH)
            if Self.mode(s) == 0b11 { Self.storeConversion(&s) }
        }
    }

    // MARK: - SimulatedI2CDevice

    /// A write message: the register address, then data as register address/data pairs
    /// (section 6.2.1). A lone address sets the address for the next read.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        state.withLock { s in
            var index = 0
            while index < bytes.count {
                s.pointer = bytes[index]
                if index + 1 < bytes.count { Self.store(&s, register: bytes[index], value: bytes[index + 1]) }
                index += 2
            }
        }
    }

    /// A read message: registers from the current address on, auto-incrementing.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        state.withLock { s in
            (0..<count).map { _ in
                defer { s.pointer &+= 1 }
                return Self.load(&s, register: s.pointer)
            }
        }
    }

    // MARK: - Register behaviour

    private static func mode(_ s: State) -> UInt8 { s.registers[Int(Register.controlMeasurement)] & 0b11 }

    private static func peek(_ s: State, _ register: UInt8) -> UInt8 {
        switch register {
        case Register.id: s.chipID
        case Register.reset: 0x00
        case Register.status: status(s)
        default: s.registers[Int(register)]
        }
    }

    /// status: measuring in bit 3, im_update in bit 0 (section 5.4.4).
    private static func status(_ s: State) -> UInt8 {
        (s.conversionPending ? 0b1000 : 0) | (s.imageUpdateReadsLeft > 0 || s.nvmCopyHangs ? 0b0001 : 0)
    }

    private static func load(_ s: inout State, register: UInt8) -> UInt8 {
        let value = peek(s, register)
        if register == Register.status {
            if s.imageUpdateReadsLeft > 0 { s.imageUpdateReadsLeft -= 1 }
            if s.conversionPending && !s.conversionHangs {
                s.measuringReadsLeft -= 1
                if s.measuringReadsLeft <= 0 { finishForcedConversion(&s) }
            }
        }
        return value
    }

    private static func store(_ s: inout State, register: UInt8, value: UInt8) {
        switch register {
        case Register.reset:
            if value == 0xB6 { reset(&s) }          // other values have no effect
        case Register.controlHumidity where s.variant == .bme280:
            s.registers[Int(register)] = value & 0b111
        case Register.controlMeasurement:
            s.registers[Int(register)] = value
            if s.variant == .bme280 {
                s.effectiveHumidityOversampling = s.registers[Int(Register.controlHumidity)] & 0b111
            }
            switch value & 0b11 {
            case 0b01, 0b10:
                s.conversionPending = true
                s.measuringReadsLeft = s.statusReadsWhileMeasuring
                if s.measuringReadsLeft == 0 && !s.conversionHangs { finishForcedConversion(&s) }
            case 0b11:
                s.conversionPending = false
                storeConversion(&s)
            default:
                s.conversionPending = false
            }
        case Register.config:
            guard mode(s) != 0b11 else { return }   // "writes to config in normal mode may be ignored"
            s.registers[Int(register)] = value & 0b1111_1101
        default:
            return                                  // id, calibration, status, data: read-only
        }
    }

    /// The complete power-on-reset procedure (section 5.4.2).
    private static func reset(_ s: inout State) {
        for register in [Register.controlHumidity, Register.controlMeasurement, Register.config] {
            s.registers[Int(register)] = 0
        }
        let resetData: [UInt8] = s.variant == .bme280
            ? [0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00]
            : [0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00]
        for (offset, byte) in resetData.enumerated() { s.registers[Int(Register.pressMSB) + offset] = byte }
        s.effectiveHumidityOversampling = 0
        s.conversionPending = false
        s.imageUpdateReadsLeft = s.statusReadsWhileCopyingNVM
        s.resets += 1
    }

    private static func finishForcedConversion(_ s: inout State) {
        s.conversionPending = false
        storeConversion(&s)
        s.registers[Int(Register.controlMeasurement)] &= 0b1111_1100   // back to sleep
        s.forcedConversions += 1
    }

    /// Copies a conversion into the data registers, with the placeholders for skipped quantities.
    private static func storeConversion(_ s: inout State) {
        let controlMeasurement = s.registers[Int(Register.controlMeasurement)]
        let pressure = (controlMeasurement >> 2) & 0b111 == 0 ? 0x80000 : s.rawPressure
        let temperature = (controlMeasurement >> 5) & 0b111 == 0 ? 0x80000 : s.rawTemperature
        var bytes = [
            UInt8(pressure >> 12), UInt8((pressure >> 4) & 0xFF), UInt8((pressure & 0xF) << 4),
            UInt8(temperature >> 12), UInt8((temperature >> 4) & 0xFF), UInt8((temperature & 0xF) << 4),
        ]
        if s.variant == .bme280 {
            let humidity = s.effectiveHumidityOversampling == 0 ? 0x8000 : s.rawHumidity
            bytes += [UInt8(humidity >> 8), UInt8(humidity & 0xFF)]
        }
        for (offset, byte) in bytes.enumerated() { s.registers[Int(Register.pressMSB) + offset] = byte }
    }

    /// The raw value in `range` whose `compensate` is nearest `target`, for a monotonic `compensate`.
    private static func invert(_ range: ClosedRange<Int>, target: Double, _ compensate: (Int) -> Double) -> Int {
        var low = range.lowerBound
        var high = range.upperBound
        let increasing = compensate(high) >= compensate(low)
        while high - low > 1 {
            let middle = (low + high) / 2
            if (compensate(middle) < target) == increasing { low = middle } else { high = middle }
        }
        return abs(compensate(low) - target) <= abs(compensate(high) - target) ? low : high
    }
}
