/// The SSD1306's I2C byte stream as pure functions: command bytes from the datasheet's command
/// table (Section 9, Table 9-1) and the way they and display data are cut into I2C messages
/// (Section 8.1.5.1). No I/O here; `SSD1306` sends what these return, and tests compare them with
/// the datasheet directly.
///
/// A command is an array of bytes: the opcode, then its parameters. Every I2C message starts with
/// a control byte: Co = 0 (bit 7: only data bytes follow) and D/C# (bit 6): 0 for commands
/// (00h), 1 for GDDRAM data (40h).
public enum SSD1306Protocol {
    // MARK: - Control bytes (Section 8.1.5.1)

    /// Co = 0, D/C# = 0: the rest of the message are command bytes.
    public static let commandControlByte: UInt8 = 0x00
    /// Co = 0, D/C# = 1: the rest of the message are GDDRAM data bytes.
    public static let dataControlByte: UInt8 = 0x40
    /// Bytes after the control byte in one message on SMBus-only adapters: one SMBus I2C-block
    /// write carries the control byte as its command and up to 32 bytes, and the driver keeps to
    /// 31 so that the whole message is at most 32 bytes, which adapters that count the command in
    /// their 32-byte buffer need too.
    public static let smbusPayloadLimit = 31
    /// The longest command (a scroll setup, 26h/27h with 6 parameters): commands are never split
    /// between messages, so a payload limit is at least this.
    public static let longestCommand = 7
    /// The largest message Linux's I2C_RDWR accepts (8192 bytes), less the control byte.
    public static let i2cPayloadLimit = 8191

    // MARK: - Opcodes (Table 9-1)

    /// Opcodes of the commands the driver uses, with their datasheet sections.
    public enum Opcode {
        /// 20h, A[1:0]: memory addressing mode (10.1.3); 00b horizontal.
        public static let memoryAddressingMode: UInt8 = 0x20
        /// 21h, A, B: column start and end address (10.1.4).
        public static let columnAddress: UInt8 = 0x21
        /// 22h, A, B: page start and end address (10.1.5).
        public static let pageAddress: UInt8 = 0x22
        /// 40h-7Fh: display start line 0-63 (10.1.6).
        public static let displayStartLine: UInt8 = 0x40
        /// 81h, A: contrast (10.1.7).
        public static let contrast: UInt8 = 0x81
        /// 8Dh, A: charge pump setting (8.10).
        public static let chargePump: UInt8 = 0x8D
        /// A4h: output follows RAM content (10.1.9).
        public static let resumeToRAM: UInt8 = 0xA4
        /// A6h: normal display, 1 in RAM = pixel on (10.1.10).
        public static let normalDisplay: UInt8 = 0xA6
        /// A7h: inverse display, 0 in RAM = pixel on (10.1.10).
        public static let inverseDisplay: UInt8 = 0xA7
        /// A8h, A: multiplex ratio, A = rows - 1, 15-63 (10.1.11).
        public static let multiplexRatio: UInt8 = 0xA8
        /// AEh: display off, sleep mode (10.1.12).
        public static let displayOff: UInt8 = 0xAE
        /// AFh: display on in normal mode (10.1.12).
        public static let displayOn: UInt8 = 0xAF
        /// D3h, A: display offset, vertical shift by COM 0-63 (10.1.15).
        public static let displayOffset: UInt8 = 0xD3
        /// D5h, A: display clock divide ratio (A[3:0] + 1) and oscillator frequency (A[7:4]) (10.1.16).
        public static let clockDivide: UInt8 = 0xD5
        /// D9h, A: pre-charge period, phase 1 A[3:0] and phase 2 A[7:4] in DCLKs (10.1.17).
        public static let precharge: UInt8 = 0xD9
        /// DAh, A: COM pins hardware configuration (10.1.18).
        public static let comPins: UInt8 = 0xDA
        /// DBh, A: V_COMH deselect level (10.1.19).
        public static let vcomhDeselect: UInt8 = 0xDB
    }

    /// D5h parameter used: divide ratio 1, oscillator frequency setting 8 (the reset value 80h).
    public static let clockDivideParameter: UInt8 = 0x80

    // MARK: - Command sequences

    /// The initialisation sequence up to, but not including, display on: display off, clock
    /// divide, multiplex ratio, display offset, start line, charge pump, horizontal addressing,
    /// segment re-map, COM scan direction, COM pins, contrast, pre-charge, V_COMH deselect level,
    /// resume to RAM content, normal display. It holds every step of the datasheet's software
    /// initialisation flow chart, with the charge pump enabled before display on as Section 8.10
    /// requires, and sets horizontal addressing mode for the driver's window writes.
    public static func configurationCommands(for configuration: SSD1306.Configuration) -> [[UInt8]] {
        let panel = configuration.panel
        return [
            [Opcode.displayOff],
            [Opcode.clockDivide, clockDivideParameter],
            [Opcode.multiplexRatio, panel.multiplexRatioParameter],
            [Opcode.displayOffset, 0x00],
            [Opcode.displayStartLine | 0],
            [Opcode.chargePump, configuration.powerSupply.chargePumpParameter],
            [Opcode.memoryAddressingMode, 0x00],
            [configuration.orientation.segmentRemapCommand],
            [configuration.orientation.comScanCommand],
            [Opcode.comPins, panel.comPinsParameter],
            contrast(configuration.contrast),
            [Opcode.precharge, configuration.powerSupply.prechargeParameter],
            [Opcode.vcomhDeselect, configuration.vcomhDeselectLevel.rawValue],
            [Opcode.resumeToRAM],
            [Opcode.normalDisplay],
        ]
    }

    /// The whole initialisation sequence: ``configurationCommands(for:)`` then display on (AFh).
    /// The driver clears GDDRAM between the two, so that power-on RAM noise never shows.
    public static func initializationCommands(for configuration: SSD1306.Configuration) -> [[UInt8]] {
        configurationCommands(for: configuration) + [[Opcode.displayOn]]
    }

    /// Set Column Address (21h) and Set Page Address (22h) for `region`; in horizontal addressing
    /// mode the data that follows fills the region page by page and the pointers start at its top
    /// left (Sections 10.1.4, 10.1.5).
    public static func windowCommands(for region: Framebuffer.Region) -> [[UInt8]] {
        [
            [Opcode.columnAddress, UInt8(truncatingIfNeeded: region.columns.lowerBound), UInt8(truncatingIfNeeded: region.columns.upperBound)],
            [Opcode.pageAddress, UInt8(truncatingIfNeeded: region.pages.lowerBound), UInt8(truncatingIfNeeded: region.pages.upperBound)],
        ]
    }

    /// Set Contrast Control (81h) with `contrast`.
    public static func contrast(_ contrast: SSD1306.Contrast) -> [UInt8] {
        [Opcode.contrast, contrast.rawValue]
    }

    /// Display on (AFh) or off (AEh).
    public static func display(on: Bool) -> [UInt8] {
        [on ? Opcode.displayOn : Opcode.displayOff]
    }

    /// Inverse (A7h) or normal (A6h) display.
    public static func inverted(_ inverted: Bool) -> [UInt8] {
        [inverted ? Opcode.inverseDisplay : Opcode.normalDisplay]
    }

    // MARK: - Messages

    /// Groups commands into message payloads of at most `limit` bytes without splitting a
    /// command; a command longer than `limit` goes alone in its own payload.
    public static func commandPayloads(_ commands: [[UInt8]], limit: Int) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        var current: [UInt8] = []
        for command in commands where !command.isEmpty {
            if !current.isEmpty && current.count + command.count > limit {
                payloads.append(current)
                current = []
            }
            current += command
        }
        if !current.isEmpty { payloads.append(current) }
        return payloads
    }

    /// Cuts GDDRAM data into message payloads of at most `limit` bytes, in order.
    public static func dataPayloads(_ data: [UInt8], limit: Int) -> [[UInt8]] {
        let size = max(1, limit)
        return stride(from: 0, to: data.count, by: size).map { start in
            Array(data[start..<min(start + size, data.count)])
        }
    }
}
