extension SimulatedSSD1306 {
    /// The glass the simulated chip drives.
    public enum Panel: Sendable, Hashable, CaseIterable {
        /// 128 columns, 64 rows.
        case size128x64
        /// 128 columns, 32 rows (commons 0-31).
        case size128x32

        /// Rows of the glass.
        public var rows: Int { self == .size128x64 ? 64 : 32 }
    }

    /// Memory addressing modes of command 20h (datasheet Section 10.1.3).
    public enum AddressingMode: UInt8, Sendable, Hashable {
        /// 00b: the column pointer advances, then wraps to the next page of the window.
        case horizontal = 0
        /// 01b: the page pointer advances, then wraps to the next column of the window.
        case vertical = 1
        /// 10b (reset): the column pointer advances within one page.
        case page = 2
    }

    /// The chip's settings as the commands of Table 9-1 leave them; `init()` gives the reset
    /// values the table lists.
    public struct Registers: Sendable, Hashable {
        /// AEh/AFh: display on (reset: off, sleep mode).
        public var isDisplayOn = false
        /// 81h: contrast (reset 7Fh).
        public var contrast: UInt8 = 0x7F
        /// 20h: memory addressing mode (reset: page).
        public var addressingMode: AddressingMode = .page
        /// 21h: column window (reset 0...127).
        public var columnWindow: ClosedRange<Int> = 0...127
        /// 22h: page window (reset 0...7).
        public var pageWindow: ClosedRange<Int> = 0...7
        /// The GDDRAM column the next data byte goes to.
        public var columnPointer = 0
        /// The GDDRAM page the next data byte goes to.
        public var pagePointer = 0
        /// 00h-1Fh: column start address for page addressing mode (reset 0).
        public var pageModeColumnStart = 0
        /// 40h-7Fh: display start line (reset 0).
        public var displayStartLine = 0
        /// A0h/A1h: column 127 drives SEG0 when true (reset: A0h, false).
        public var segmentRemap = false
        /// A4h/A5h: every pixel lit regardless of RAM (reset: A4h, false).
        public var entireDisplayOn = false
        /// A6h/A7h: inverse display (reset: A6h, false).
        public var inverted = false
        /// A8h: multiplex ratio, the number of rows driven (parameter + 1; reset 64).
        public var multiplexRatio = 64
        /// C0h/C8h: COM scan from COM[N-1] to COM0 when true (reset: C0h, false).
        public var comScanRemapped = false
        /// D3h: display offset, vertical shift by COM (reset 0).
        public var displayOffset = 0
        /// D5h: clock divide ratio / oscillator frequency (reset 80h).
        public var clockDivide: UInt8 = 0x80
        /// D9h: pre-charge period (reset 22h).
        public var precharge: UInt8 = 0x22
        /// DAh: COM pins hardware configuration (reset 12h: alternative, no left/right remap).
        public var comPins: UInt8 = 0x12
        /// DBh: V_COMH deselect level (reset 20h, about 0.77 x V_CC).
        public var vcomhDeselect: UInt8 = 0x20
        /// 8Dh: internal charge pump enabled (reset: 10h, disabled).
        public var chargePumpEnabled = false
        /// 2Eh/2Fh: scrolling active (reset: deactivated).
        public var scrollingActive = false

        public init() {}
    }

    /// Parameter bytes after each opcode of Table 9-1, or `nil` for bytes that are no command.
    static func parameterCount(of opcode: UInt8) -> Int? {
        switch opcode {
        case 0x00...0x17, 0x2E, 0x2F, 0x40...0x7F, 0xA0, 0xA1, 0xA4...0xA7, 0xAE, 0xAF, 0xB0...0xB7, 0xC0, 0xC8, 0xE3:
            return 0
        case 0x20, 0x23, 0x81, 0x8D, 0xA8, 0xD3, 0xD5, 0xD6, 0xD9, 0xDA, 0xDB:
            return 1
        case 0x21, 0x22, 0xA3:
            return 2
        case 0x29, 0x2A:
            return 5
        case 0x26, 0x27:
            return 6
        default:
            return nil
        }
    }
}
