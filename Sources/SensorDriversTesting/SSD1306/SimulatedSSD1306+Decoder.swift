/// The simulated chip's state and its I2C command decoder, written from the datasheet: the control
/// byte format of Section 8.1.5.1, the command table (Section 9, Table 9-1) and the addressing
/// modes of Section 10.1.3. Not thread-safe by itself: `SimulatedSSD1306` holds it in a `Mutex`.
struct SSD1306Model {
    static let columns = 128
    static let pages = 8

    var registers = SimulatedSSD1306.Registers()
    /// GDDRAM: 8 pages of 128 bytes, page by page; bit 0 of a byte is the page's top row.
    var ram = [UInt8](repeating: 0, count: columns * pages)
    /// A command whose parameters have not all arrived yet.
    var pending: [UInt8] = []
    var pendingParameters = 0
    var commandLog: [[UInt8]] = []
    var dataBytesReceived = 0
    var violations: [String] = []

    // MARK: - Messages (Section 8.1.5.1)

    /// One I2C write message: control byte, then bytes, with more control bytes where Co = 1.
    mutating func receive(_ bytes: [UInt8]) {
        var index = 0
        while index < bytes.count {
            let control = bytes[index]
            index += 1
            if control & 0x3F != 0 {
                violations.append("control byte \(hex(control)) has bits 5-0 set: it must be Co, D/C#, then six 0s (Section 8.1.5.1)")
            }
            let isData = control & 0x40 != 0
            if control & 0x80 != 0 {
                // Co = 1: one byte follows, then another control byte.
                guard index < bytes.count else {
                    violations.append("the message ends after control byte \(hex(control)) with Co = 1")
                    return
                }
                take(bytes[index], isData: isData)
                index += 1
            } else {
                // Co = 0: the rest of the message is data bytes (commands or GDDRAM data).
                for byte in bytes[index...] { take(byte, isData: isData) }
                index = bytes.count
            }
        }
    }

    private mutating func take(_ byte: UInt8, isData: Bool) {
        if isData { writeRAM(byte) } else { decode(byte) }
    }

    // MARK: - Commands (Table 9-1)

    private mutating func decode(_ byte: UInt8) {
        if !pending.isEmpty {
            pending.append(byte)
            if pending.count == pendingParameters + 1 {
                let command = pending
                pending = []
                execute(command)
            }
            return
        }
        guard let count = SimulatedSSD1306.parameterCount(of: byte) else {
            violations.append("\(hex(byte)) is not a command in Table 9-1")
            return
        }
        if count == 0 {
            execute([byte])
        } else {
            pending = [byte]
            pendingParameters = count
        }
    }

    private mutating func execute(_ command: [UInt8]) {
        commandLog.append(command)
        let opcode = command[0]
        let a = command.count > 1 ? command[1] : 0
        switch opcode {
        case 0x00...0x0F:
            registers.pageModeColumnStart = registers.pageModeColumnStart & 0x70 | Int(opcode & 0x0F)
            if registers.addressingMode == .page { registers.columnPointer = registers.pageModeColumnStart }
        case 0x10...0x17:
            registers.pageModeColumnStart = registers.pageModeColumnStart & 0x0F | Int(opcode & 0x07) << 4
            if registers.addressingMode == .page { registers.columnPointer = registers.pageModeColumnStart }
        case 0x20:
            guard let mode = SimulatedSSD1306.AddressingMode(rawValue: a & 0x03) else {
                violations.append("20h with \(hex(a)): addressing mode 11b is invalid (Section 10.1.3)")
                return
            }
            registers.addressingMode = mode
        case 0x21:
            // Set Column Address also moves the column pointer to the start (Section 10.1.4).
            guard let window = window(command, last: Self.columns - 1, section: "10.1.4") else { return }
            registers.columnWindow = window
            registers.columnPointer = window.lowerBound
        case 0x22:
            // Set Page Address also moves the page pointer to the start (Section 10.1.5).
            guard let window = window(command, last: Self.pages - 1, section: "10.1.5") else { return }
            registers.pageWindow = window
            registers.pagePointer = window.lowerBound
        case 0x2E: registers.scrollingActive = false
        case 0x2F: registers.scrollingActive = true
        case 0x40...0x7F: registers.displayStartLine = Int(opcode & 0x3F)
        case 0x81: registers.contrast = a
        case 0x8D:
            guard a & ~0x04 == 0x10 else {
                violations.append("8Dh with \(hex(a)): the charge pump setting is 10h (off) or 14h (on) (Section 8.10)")
                return
            }
            registers.chargePumpEnabled = a & 0x04 != 0
        case 0xA0, 0xA1: registers.segmentRemap = opcode == 0xA1
        case 0xA4, 0xA5: registers.entireDisplayOn = opcode == 0xA5
        case 0xA6, 0xA7: registers.inverted = opcode == 0xA7
        case 0xA8:
            let ratio = Int(a & 0x3F)
            guard ratio >= 15 else {
                violations.append("A8h with \(hex(a)): multiplex ratios 0-14 are invalid (Section 10.1.11)")
                return
            }
            registers.multiplexRatio = ratio + 1
        case 0xAE, 0xAF: registers.isDisplayOn = opcode == 0xAF
        case 0xB0...0xB7:
            if registers.addressingMode == .page { registers.pagePointer = Int(opcode & 0x07) }
        case 0xC0, 0xC8: registers.comScanRemapped = opcode == 0xC8
        case 0xD3: registers.displayOffset = Int(a & 0x3F)
        case 0xD5: registers.clockDivide = a
        case 0xD9:
            guard a & 0x0F != 0, a & 0xF0 != 0 else {
                violations.append("D9h with \(hex(a)): a pre-charge phase of 0 DCLK is invalid (Section 10.1.17)")
                return
            }
            registers.precharge = a
        case 0xDA:
            guard a & 0xCF == 0x02 else {
                violations.append("DAh with \(hex(a)): the COM pins setting is 00xx0010b (Section 10.1.18)")
                return
            }
            registers.comPins = a
        case 0xDB: registers.vcomhDeselect = a
        default:
            break // scrolling setup (26h/27h/29h/2Ah/A3h), fade (23h), zoom (D6h), NOP (E3h): logged only
        }
    }

    /// The start...end window of 21h/22h, or `nil` (and a violation) unless start <= end <= `last`.
    private mutating func window(_ command: [UInt8], last: Int, section: String) -> ClosedRange<Int>? {
        let start = Int(command[1]), end = Int(command[2])
        guard start <= end, end <= last else {
            violations.append("\(hex(command[0])) with \(hex(command[1])), \(hex(command[2])): the window must be start <= end in 0...\(last) (Section \(section))")
            return nil
        }
        return start...end
    }

    // MARK: - GDDRAM (Section 10.1.3)

    private mutating func writeRAM(_ byte: UInt8) {
        dataBytesReceived += 1
        var r = registers
        ram[r.pagePointer * Self.columns + r.columnPointer] = byte
        switch r.addressingMode {
        case .horizontal:
            r.columnPointer += 1
            if r.columnPointer > r.columnWindow.upperBound {
                r.columnPointer = r.columnWindow.lowerBound
                r.pagePointer = r.pagePointer >= r.pageWindow.upperBound ? r.pageWindow.lowerBound : r.pagePointer + 1
            }
        case .vertical:
            r.pagePointer += 1
            if r.pagePointer > r.pageWindow.upperBound {
                r.pagePointer = r.pageWindow.lowerBound
                r.columnPointer = r.columnPointer >= r.columnWindow.upperBound ? r.columnWindow.lowerBound : r.columnPointer + 1
            }
        case .page:
            r.columnPointer = r.columnPointer >= Self.columns - 1 ? r.pageModeColumnStart : r.columnPointer + 1
        }
        registers = r
    }

    func ramPixel(column: Int, row: Int) -> Bool {
        guard column >= 0, column < Self.columns, row >= 0, row < Self.pages * 8 else { return false }
        return ram[(row >> 3) * Self.columns + column] & (1 << UInt8(row & 7)) != 0
    }

    // MARK: - Panel

    /// Whether the glass pixel at (`x`, `y`) is lit, on a module mounted so that segment re-map
    /// A1h and COM scan C8h show column 0, row 0 of GDDRAM at the top left.
    func isLit(x: Int, y: Int, rows: Int) -> Bool {
        guard x >= 0, x < Self.columns, y >= 0, y < rows, registers.isDisplayOn else { return false }
        if registers.entireDisplayOn { return true }
        let driven = min(registers.multiplexRatio, rows)
        guard y < driven else { return false }
        let column = registers.segmentRemap ? x : Self.columns - 1 - x
        let line = registers.comScanRemapped ? y : driven - 1 - y
        let row = (line + registers.displayStartLine + registers.displayOffset) % (Self.pages * 8)
        return ramPixel(column: column, row: row) != registers.inverted
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return (digits.count < 2 ? "0" : "") + digits + "h"
    }
}
