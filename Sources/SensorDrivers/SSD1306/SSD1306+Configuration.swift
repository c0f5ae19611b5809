import IoTSDK

extension SSD1306 {
    /// The glass an SSD1306 drives. The chip has 128 segment and 64 common outputs; modules wire
    /// all 64 commons (128x64) or 32 of them (128x32), and each wiring needs its own multiplex
    /// ratio and COM pins hardware configuration.
    public enum Panel: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// 128x64 modules (0.96", 1.3" with SSD1306): all 64 commons, alternative COM pin layout.
        case size128x64
        /// 128x32 modules (0.91"): 32 commons, sequential COM pin layout.
        case size128x32

        /// Picks the panel for a size that comes from input (a flag, a config file).
        ///
        /// - Throws: `SensorError(.invalidSetting)` for any size other than 128x64 or 128x32.
        public init(width: Int, height: Int) throws(SensorError) {
            switch (width, height) {
            case (128, 64): self = .size128x64
            case (128, 32): self = .size128x32
            default:
                throw SensorError(.invalidSetting, chip: "SSD1306",
                                  "a \(width)x\(height) panel is not supported: the SSD1306 driver handles 128x64 and 128x32 panels")
            }
        }

        /// Columns (segments): always 128.
        public var width: Int { 128 }

        /// Rows (commons in use): 64 or 32.
        public var height: Int {
            switch self {
            case .size128x64: 64
            case .size128x32: 32
            }
        }

        /// Pages of 8 rows each in GDDRAM that the panel shows: 8 or 4.
        public var pages: Int { height / 8 }

        /// The parameter of Set Multiplex Ratio (A8h): the number of rows minus one
        /// (datasheet Section 10.1.11; 3Fh for 64 rows, 1Fh for 32).
        public var multiplexRatioParameter: UInt8 { UInt8(height - 1) }

        /// The parameter of Set COM Pins Hardware Configuration (DAh), datasheet Section 10.1.18:
        /// 12h (alternative layout, no left/right remap) for 128x64 modules, 02h
        /// (sequential layout) for 128x32 modules, whose glass uses every common in order.
        public var comPinsParameter: UInt8 {
            switch self {
            case .size128x64: 0x12
            case .size128x32: 0x02
            }
        }

        public var description: String { "\(width)x\(height)" }
    }

    /// The OLED contrast: the segment current step of Set Contrast Control (81h), 0-255; the
    /// chip's reset value is 7Fh (datasheet Section 10.1.7; I_SEG = contrast / 256 x I_REF x 8,
    /// Section 8.8).
    public struct Contrast: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
        public let rawValue: UInt8

        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// A level that comes from input.
        ///
        /// - Throws: `SensorError(.invalidSetting)` unless `level` is in 0...255.
        public init(level: Int) throws(SensorError) {
            guard let value = UInt8(exactly: level) else {
                throw SensorError(.invalidSetting, chip: "SSD1306", "contrast \(level) is out of range: Set Contrast Control (81h) takes 0...255")
            }
            rawValue = value
        }

        /// The chip's power-on contrast, 7Fh.
        public static let reset = Contrast(rawValue: 0x7F)
        /// The brightest setting, FFh.
        public static let maximum = Contrast(rawValue: 0xFF)

        public static func < (a: Contrast, b: Contrast) -> Bool { a.rawValue < b.rawValue }

        public var description: String { "\(rawValue)/255" }
    }

    /// Where the panel's drive voltage V_CC comes from.
    public enum PowerSupply: Sendable, Hashable {
        /// The chip's charge pump makes V_CC from V_BAT (almost every 3.3 V/5 V breakout module).
        /// Charge pump on (8Dh, 14h; Section 8.10) and pre-charge F1h (phase 1 = 1 DCLK, phase 2 =
        /// 15 DCLK), the usual setting for charge-pump modules.
        case internalChargePump
        /// V_CC is supplied on its pin (7-15 V). Charge pump off (8Dh, 10h) and the reset
        /// pre-charge 22h (Section 10.1.17).
        case external

        /// The parameter of the Charge Pump Setting command (8Dh).
        public var chargePumpParameter: UInt8 { self == .internalChargePump ? 0x14 : 0x10 }

        /// The parameter of Set Pre-charge Period (D9h).
        public var prechargeParameter: UInt8 { self == .internalChargePump ? 0xF1 : 0x22 }
    }

    /// How the image is mapped onto the glass.
    public enum Orientation: Sendable, Hashable {
        /// Column 0 and row 0 at the top left of a module held with its pins at the top: segment
        /// re-map on (A1h: column 127 drives SEG0) and COM scan remapped (C8h: COM[N-1] to COM0).
        case normal
        /// Turned by 180 degrees: no segment re-map (A0h), normal COM scan (C0h).
        case rotated180

        /// Set Segment Re-map (A0h/A1h), Section 10.1.8.
        public var segmentRemapCommand: UInt8 { self == .normal ? 0xA1 : 0xA0 }

        /// Set COM Output Scan Direction (C0h/C8h), Section 10.1.14.
        public var comScanCommand: UInt8 { self == .normal ? 0xC8 : 0xC0 }
    }

    /// The V_COMH deselect level of Set V_COMH Deselect Level (DBh), Section 10.1.19.
    public enum VCOMHDeselectLevel: UInt8, Sendable, Hashable, CaseIterable {
        /// About 0.65 x V_CC (00h).
        case vcc065 = 0x00
        /// About 0.77 x V_CC (20h), the reset value.
        case vcc077 = 0x20
        /// About 0.83 x V_CC (30h).
        case vcc083 = 0x30
    }

    /// Settings for `SSD1306.init(device:configuration:)`.
    public struct Configuration: Sendable, Hashable {
        /// The glass: 128x64 or 128x32.
        public var panel: Panel
        /// The contrast set during initialisation.
        public var contrast: Contrast
        /// Where V_CC comes from; decides the charge pump and pre-charge settings.
        public var powerSupply: PowerSupply
        /// Which way up the image is.
        public var orientation: Orientation
        /// The V_COMH deselect level.
        public var vcomhDeselectLevel: VCOMHDeselectLevel
        /// The most bytes to send after the control byte in one I2C message, or `nil` for the
        /// adapter's natural size: a whole update in one message on adapters that can do plain I2C,
        /// 31 bytes (32 with the control byte, one SMBus I2C-block write) on SMBus-only adapters.
        /// Set it for I2C bridges with small buffers. Commands are never split, so the smallest
        /// value is 7 (the longest command, a scroll setup, is 7 bytes). Allowed: 7...31 on
        /// SMBus-only adapters, 7...8191 (Linux's 8192-byte I2C_RDWR message limit, less the
        /// control byte) on I2C adapters.
        public var maximumPayloadPerMessage: Int?

        public init(panel: Panel = .size128x64,
                    contrast: Contrast = .reset,
                    powerSupply: PowerSupply = .internalChargePump,
                    orientation: Orientation = .normal,
                    vcomhDeselectLevel: VCOMHDeselectLevel = .vcc077,
                    maximumPayloadPerMessage: Int? = nil) {
            self.panel = panel
            self.contrast = contrast
            self.powerSupply = powerSupply
            self.orientation = orientation
            self.vcomhDeselectLevel = vcomhDeselectLevel
            self.maximumPayloadPerMessage = maximumPayloadPerMessage
        }
    }
}
