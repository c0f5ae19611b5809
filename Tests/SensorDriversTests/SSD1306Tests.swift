import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

// Datasheet: Solomon Systech SSD1306 "128 x 64 Dot Matrix OLED/PLED Segment/Common Driver with
// Controller", Rev 1.5 (Aug 2010). Expected bytes below are written out by hand from it.

// MARK: - Helpers

private let address: I2CAddress = 0x3C

/// One I2C write as (control byte, payload), whether it went as a plain I2C message or as an
/// SMBus call (whose command byte is the control byte).
private struct Message: Equatable, CustomStringConvertible {
    var control: UInt8
    var payload: [UInt8]
    var description: String { "[\(control): \(payload.count) bytes]" }
}

private func messages(_ trace: [I2CTraceEntry]) -> [Message] {
    trace.flatMap { entry -> [Message] in
        switch entry {
        case .transfer(_, let parts):
            return parts.compactMap { part in
                guard case .write(let bytes) = part, let first = bytes.first else { return nil }
                return Message(control: first, payload: Array(bytes.dropFirst()))
            }
        case .smbus(_, _, let command, let bytes):
            return [Message(control: command ?? 0xFF, payload: bytes)]
        }
    }
}

private func smbusOperations(_ trace: [I2CTraceEntry]) -> [String] {
    trace.compactMap { entry in
        if case .smbus(_, let operation, _, _) = entry { return operation }
        return nil
    }
}

private func rig(_ panel: SimulatedSSD1306.Panel = .size128x64, functionality: I2CFunctionality = .fullI2C,
                 ramFill: UInt8 = 0) -> (SimulatedSSD1306, SimulatedI2CBus) {
    let chip = SimulatedSSD1306(panel: panel, ramFill: ramFill)
    let bus = SimulatedI2CBus(functionality: functionality, devices: [address: chip])
    return (chip, bus)
}

private func expectInvalidSetting(_ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected SensorError(.invalidSetting)")
    } catch let error as SensorError {
        #expect(error.code == .invalidSetting)
    } catch {
        Issue.record("expected SensorError(.invalidSetting), got \(error)")
    }
}

/// The initialisation commands for a 128x64 module with the internal charge pump, from the
/// datasheet: display off AEh (10.1.12); clock divide D5h 80h = ratio 1, Fosc setting 8, the
/// reset value (10.1.16); multiplex A8h 3Fh = 64 rows (10.1.11); display offset D3h 00h
/// (10.1.15); start line 40h (10.1.6); charge pump 8Dh 14h (8.10); horizontal addressing
/// 20h 00h (10.1.3); segment re-map A1h (10.1.8); COM scan C8h (10.1.14); COM pins DAh 12h,
/// alternative configuration (10.1.18); contrast 81h 7Fh, the reset value (10.1.7); pre-charge
/// D9h F1h (10.1.17); V_COMH DBh 20h = 0.77 x V_CC (10.1.19); A4h resume to RAM (10.1.9); A6h
/// normal (10.1.10).
private let expectedConfiguration128x64: [UInt8] = [
    0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00,
    0xA1, 0xC8, 0xDA, 0x12, 0x81, 0x7F, 0xD9, 0xF1, 0xDB, 0x20, 0xA4, 0xA6,
]

// MARK: - Initialisation

@Suite("SSD1306 initialisation")
struct SSD1306InitialisationTests {
    @Test("the configuration commands match the datasheet, byte for byte")
    func configurationBytes() {
        let commands = SSD1306Protocol.initializationCommands(for: .init())
        #expect(commands.flatMap { $0 } == expectedConfiguration128x64 + [0xAF])
        // Every step of the datasheet's software initialisation flow chart is there with its value:
        // A8h 3Fh, D3h 00h, 40h, A0h/A1h, C0h/C8h, DAh 02h/12h, 81h 7Fh, A4h, A6h, D5h 80h, 8Dh 14h, AFh.
        for step: [UInt8] in [[0xA8, 0x3F], [0xD3, 0x00], [0x40], [0xA1], [0xC8], [0xDA, 0x12], [0x81, 0x7F],
                              [0xA4], [0xA6], [0xD5, 0x80], [0x8D, 0x14], [0xAF]] {
            #expect(commands.contains(step), "missing \(step)")
        }
        // Section 8.10: the charge pump is enabled before the display is turned on.
        let pump = commands.firstIndex(of: [0x8D, 0x14]) ?? .max
        let on = commands.firstIndex(of: [0xAF]) ?? -1
        #expect(pump < on)
    }

    @Test("128x32 panels use multiplex 1Fh and sequential COM pins 02h")
    func panel128x32() {
        let bytes = SSD1306Protocol.initializationCommands(for: .init(panel: .size128x32)).flatMap { $0 }
        var expected = expectedConfiguration128x64 + [0xAF]
        expected[4] = 0x1F   // A8h parameter: 32 rows - 1 (10.1.11)
        expected[15] = 0x02  // DAh parameter: sequential COM pin configuration (10.1.18)
        #expect(bytes == expected)
    }

    @Test("external V_CC, rotation and V_COMH change only their own bytes")
    func otherSettings() {
        let configuration = SSD1306.Configuration(contrast: .maximum, powerSupply: .external, orientation: .rotated180,
                                                  vcomhDeselectLevel: .vcc083)
        let bytes = SSD1306Protocol.configurationCommands(for: configuration).flatMap { $0 }
        var expected = expectedConfiguration128x64
        expected[9] = 0x10   // 8Dh 10h: charge pump off (8.10)
        expected[12] = 0xA0  // no segment re-map
        expected[13] = 0xC0  // normal COM scan
        expected[17] = 0xFF  // contrast
        expected[19] = 0x22  // pre-charge reset value (10.1.17)
        expected[21] = 0x30  // V_COMH 0.83 x V_CC (10.1.19)
        #expect(bytes == expected)
    }

    @Test("init on a plain I2C adapter: configuration, blank GDDRAM in one message, display on")
    func initTraceI2C() async throws {
        let (chip, bus) = rig(ramFill: 0xA5)
        let oled = try await SSD1306(device: bus.device(address))
        let sent = messages(bus.trace)
        #expect(sent == [
            Message(control: 0x00, payload: expectedConfiguration128x64),
            Message(control: 0x00, payload: [0x21, 0x00, 0x7F, 0x22, 0x00, 0x07]),
            Message(control: 0x40, payload: [UInt8](repeating: 0, count: 1024)),
            Message(control: 0x00, payload: [0xAF]),
        ])
        let registers = chip.registers
        #expect(registers.isDisplayOn)
        #expect(registers.contrast == 0x7F)
        #expect(registers.multiplexRatio == 64)
        #expect(registers.addressingMode == .horizontal)
        #expect(registers.chargePumpEnabled)
        #expect(registers.comPins == 0x12)
        #expect(registers.segmentRemap && registers.comScanRemapped)
        #expect(chip.gddram.allSatisfy { $0 == 0 }, "the power-on noise must be cleared")
        #expect(chip.protocolViolations.isEmpty)
        #expect(await oled.isDisplayOn)
        #expect(await oled.displayedFramebuffer == Framebuffer(panel: .size128x64))
    }

    @Test("init on an SMBus-only adapter: I2C-block writes of at most 31 bytes after the control byte")
    func initTraceSMBus() async throws {
        let (chip, bus) = rig(functionality: .smbusOnly, ramFill: 0xFF)
        _ = try await SSD1306(device: bus.device(address))
        let sent = messages(bus.trace)
        #expect(sent.first == Message(control: 0x00, payload: expectedConfiguration128x64))
        #expect(sent.dropFirst().first == Message(control: 0x00, payload: [0x21, 0x00, 0x7F, 0x22, 0x00, 0x07]))
        #expect(sent.last == Message(control: 0x00, payload: [0xAF]))
        let data = sent.filter { $0.control == 0x40 }
        // 1024 bytes = 33 x 31 + 1.
        #expect(data.count == 34)
        #expect(data.dropLast().allSatisfy { $0.payload.count == 31 })
        #expect(data.last?.payload.count == 1)
        #expect(data.reduce(0) { $0 + $1.payload.count } == 1024)
        let operations = smbusOperations(bus.trace)
        #expect(operations.filter { $0 == "write-i2c-block" }.count == 2 + 33)
        #expect(operations.filter { $0 == "write-byte-data" }.count == 2)   // the last data byte, AFh
        #expect(chip.gddram.allSatisfy { $0 == 0 })
        #expect(chip.registers.isDisplayOn)
        #expect(chip.protocolViolations.isEmpty)
    }

    @Test("128x32: window pages 0-3, 512 bytes, the pages the glass does not show are left alone")
    func init128x32() async throws {
        let (chip, bus) = rig(.size128x32, ramFill: 0xA5)
        let oled = try await SSD1306(device: bus.device(address), configuration: .init(panel: .size128x32))
        let sent = messages(bus.trace)
        #expect(sent[1] == Message(control: 0x00, payload: [0x21, 0x00, 0x7F, 0x22, 0x00, 0x03]))
        #expect(sent[2].payload.count == 512)
        #expect(chip.registers.multiplexRatio == 32)
        #expect(chip.registers.comPins == 0x02)
        #expect(chip.gddram[0..<512].allSatisfy { $0 == 0 })
        #expect(chip.gddram[512...].allSatisfy { $0 == 0xA5 })
        var frame = oled.makeFramebuffer()
        #expect(frame.height == 32)
        frame.setPixel(x: 127, y: 31)
        try await oled.show(frame)
        #expect(chip.ramByte(page: 3, column: 127) == 0x80)
        #expect(chip.isLit(x: 127, y: 31))
        #expect(chip.asciiArt().split(separator: "\n").count == 32)
    }

    @Test("nothing at the address: HardwareError .noAcknowledge")
    func noAcknowledge() async {
        let bus = SimulatedI2CBus(devices: [:])
        do {
            _ = try await SSD1306(device: bus.device(address))
            Issue.record("expected a NACK")
        } catch let error as HardwareError {
            #expect(error.code == .noAcknowledge)
        } catch {
            Issue.record("expected HardwareError, got \(error)")
        }
    }

    @Test("payload limits outside what the adapter can carry are rejected")
    func payloadLimits() async {
        await expectInvalidSetting {
            let (_, bus) = rig(functionality: .smbusOnly)
            _ = try await SSD1306(device: bus.device(address), configuration: .init(maximumPayloadPerMessage: 32))
        }
        await expectInvalidSetting {
            let (_, bus) = rig()
            _ = try await SSD1306(device: bus.device(address), configuration: .init(maximumPayloadPerMessage: 6))
        }
        await expectInvalidSetting {
            let (_, bus) = rig()
            _ = try await SSD1306(device: bus.device(address), configuration: .init(maximumPayloadPerMessage: 8192))
        }
    }

    @Test("a payload limit on an I2C adapter cuts data into messages of that size")
    func payloadLimitOnI2C() async throws {
        let (chip, bus) = rig()
        _ = try await SSD1306(device: bus.device(address), configuration: .init(maximumPayloadPerMessage: 100))
        let sent = messages(bus.trace)
        // The 24 configuration bytes fit; 1024 data bytes = 10 x 100 + 24.
        #expect(sent.filter { $0.control == 0x00 }.map(\.payload.count) == [24, 6, 1])
        #expect(sent.filter { $0.control == 0x40 }.map(\.payload.count) == [Int](repeating: 100, count: 10) + [24])
        #expect(chip.protocolViolations.isEmpty)
    }
}

// MARK: - Framebuffer

@Suite("Framebuffer")
struct SSD1306FramebufferTests {
    @Test("page layout: byte page * width + x, bit y % 8, bit 0 on top (Section 8.7)")
    func bitLayout() throws {
        var frame = try Framebuffer(width: 128, height: 64)
        frame.setPixel(x: 0, y: 0)
        frame.setPixel(x: 3, y: 10)       // page 1, bit 2
        frame.setPixel(x: 127, y: 63)     // page 7, bit 7
        #expect(frame.bytes[0] == 0x01)
        #expect(frame.bytes[128 + 3] == 0x04)
        #expect(frame.bytes[1023] == 0x80)
        #expect(frame.bytes.enumerated().filter { $0.element != 0 }.map(\.offset) == [0, 131, 1023])
        #expect(frame.byte(page: 1, column: 3) == 0x04)
        #expect(frame.pixel(x: 3, y: 10) && !frame.pixel(x: 3, y: 11))
        frame.setPixel(x: 3, y: 10, false)
        #expect(frame.bytes[131] == 0)
    }

    @Test("drawing outside the image is clipped")
    func clipping() throws {
        var frame = try Framebuffer(width: 16, height: 8)
        frame.setPixel(x: -1, y: 0)
        frame.setPixel(x: 16, y: 0)
        frame.setPixel(x: 0, y: 8)
        #expect(frame.bytes.allSatisfy { $0 == 0 })
        #expect(!frame.pixel(x: -1, y: 0))
        frame.drawLine(x0: -5, y0: 3, x1: 20, y1: 3)
        #expect(frame.bytes == [UInt8](repeating: 0x08, count: 16))
    }

    @Test("invalid dimensions throw invalidSetting")
    func dimensions() async {
        for (width, height) in [(0, 64), (129, 64), (128, 0), (128, 60), (128, 72), (-8, 8)] {
            await expectInvalidSetting { _ = try Framebuffer(width: width, height: height) }
        }
        await expectInvalidSetting { _ = try SSD1306.Panel(width: 128, height: 48) }
        await expectInvalidSetting { _ = try SSD1306.Panel(width: 96, height: 16) }
        #expect(throws: Never.self) { _ = try Framebuffer(width: 1, height: 8) }
        #expect((try? SSD1306.Panel(width: 128, height: 32)) == .size128x32)
        #expect(Framebuffer(panel: .size128x32).bytes.count == 512)
    }

    @Test("fill and clear")
    func fillAndClear() {
        var frame = Framebuffer(panel: .size128x64)
        frame.fill()
        #expect(frame.bytes.allSatisfy { $0 == 0xFF })
        frame.clear()
        #expect(frame.bytes.allSatisfy { $0 == 0 })
    }

    @Test("lines: horizontal, vertical across a page boundary, diagonal")
    func lines() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawLine(x0: 0, y0: 0, x1: 9, y1: 0)
        #expect((0..<10).allSatisfy { frame.pixel(x: $0, y: 0) } && !frame.pixel(x: 10, y: 0))
        frame.clear()
        frame.drawVerticalLine(x: 5, y: 4, length: 8)   // rows 4-11
        #expect(frame.byte(page: 0, column: 5) == 0xF0)
        #expect(frame.byte(page: 1, column: 5) == 0x0F)
        frame.clear()
        frame.drawLine(x0: 7, y0: 7, x1: 0, y1: 0)
        #expect((0..<8).allSatisfy { frame.pixel(x: $0, y: $0) })
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 8)
        frame.clear()
        frame.drawLine(x0: 0, y0: 0, x1: 4, y1: 2)      // shallow slope: one pixel per column
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 5)
        #expect(frame.pixel(x: 0, y: 0) && frame.pixel(x: 4, y: 2))
    }

    @Test("rectangles: outline and filled")
    func rectangles() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawRect(x: 2, y: 3, width: 10, height: 5)
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 2 * 10 + 2 * 3)
        #expect(frame.pixel(x: 2, y: 3) && frame.pixel(x: 11, y: 7) && !frame.pixel(x: 5, y: 5))
        frame.clear()
        frame.drawRect(x: 2, y: 3, width: 10, height: 5, filled: true)
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 50)
        #expect(frame.byte(page: 0, column: 2) == 0xF8)   // rows 3-7
        frame.clear()
        frame.drawRect(x: 0, y: 0, width: 0, height: 5, filled: true)
        #expect(frame.bytes.allSatisfy { $0 == 0 })
    }

    @Test("changed region is the bounding box of changed bytes")
    func changedRegion() throws {
        let before = Framebuffer(panel: .size128x64)
        var after = before
        #expect(after.changedRegion(from: before) == nil)
        after.setPixel(x: 5, y: 0)
        after.setPixel(x: 40, y: 63)
        let region = after.changedRegion(from: before)
        #expect(try region == Framebuffer.Region(columns: 5...40, pages: 0...7))
        #expect(region?.byteCount == 36 * 8)
        let bytes = after.bytes(in: try Framebuffer.Region(columns: 5...6, pages: 0...7))
        #expect(bytes == [0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("regions outside GDDRAM throw invalidSetting")
    func regionBounds() async {
        await expectInvalidSetting { _ = try Framebuffer.Region(columns: 0...128, pages: 0...7) }
        await expectInvalidSetting { _ = try Framebuffer.Region(columns: -1...10, pages: 0...7) }
        await expectInvalidSetting { _ = try Framebuffer.Region(columns: 0...127, pages: 0...8) }
    }

    @Test("extreme coordinates neither trap nor hang")
    func extremeCoordinates() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawLine(x0: Int.min, y0: 0, x1: Int.max, y1: 0)
        #expect((0..<128).allSatisfy { frame.pixel(x: $0, y: 0) })
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 128)
        frame.clear()
        frame.drawLine(x0: -100_000, y0: -100_000, x1: 100_000, y1: 100_000)
        #expect((0..<64).allSatisfy { frame.pixel(x: $0, y: $0) })
        #expect(frame.bytes.reduce(0) { $0 + $1.nonzeroBitCount } == 64)
        frame.clear()
        frame.drawRect(x: 1, y: 1, width: Int.max, height: Int.max)
        #expect(frame.pixel(x: 1, y: 1) && frame.pixel(x: 127, y: 1) && frame.pixel(x: 1, y: 63))
        #expect(!frame.pixel(x: 127, y: 63) && !frame.pixel(x: 0, y: 0))
        frame.clear()
        frame.drawRect(x: Int.min, y: Int.min, width: Int.max, height: Int.max, filled: true)
        frame.drawText("overflow", x: Int.max - 3, y: Int.max)
        frame.drawText("far", x: Int.min, y: Int.min)
        #expect(frame.bytes.allSatisfy { $0 == 0 })
        frame.drawHorizontalLine(x: -5, y: 3, length: Int.max)
        #expect(frame.bytes[0..<128].allSatisfy { $0 == 0x08 } && frame.bytes[128...].allSatisfy { $0 == 0 })
    }

    @Test("ASCII art of a framebuffer")
    func asciiArt() throws {
        var frame = try Framebuffer(width: 3, height: 8)
        frame.setPixel(x: 1, y: 1)
        #expect(frame.asciiArt().split(separator: "\n").prefix(3) == ["...", ".#.", "..."])
    }
}

// MARK: - Text and font

@Suite("5x7 font and text")
struct SSD1306TextTests {
    @Test("'A' drawn at the origin gives the glyph's column bytes")
    func letterA() {
        var frame = Framebuffer(panel: .size128x64)
        let end = frame.drawText("A", x: 0, y: 0)
        // .###.  #...#  #...#  #####  #...#  #...#  #...#  -> columns, bit 0 on top:
        #expect(Array(frame.bytes[0..<6]) == [0x7E, 0x09, 0x09, 0x09, 0x7E, 0x00])
        #expect(end == 6)
    }

    @Test("'Hi' on the second text line")
    func hiOnLineTwo() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawText("Hi", x: 10, y: 8)
        // H: #...# x3, #####, #...# x3.   i: ..#.. ..... .##.. ..#.. ..#.. ..#.. .###.
        #expect(Array(frame.bytes[138..<150]) == [0x7F, 0x08, 0x08, 0x08, 0x7F, 0x00,
                                                   0x00, 0x44, 0x7D, 0x40, 0x00, 0x00])
        #expect(frame.bytes[0..<128].allSatisfy { $0 == 0 })
    }

    @Test("text at a row that is not a page boundary straddles two pages")
    func unalignedText() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawText("0", x: 0, y: 4)
        // '0' = .###. #...# #..## #.#.# ##..# #...# .###.; rows 4-10.
        #expect(!frame.pixel(x: 0, y: 4) && frame.pixel(x: 1, y: 4) && frame.pixel(x: 0, y: 5))
        #expect(frame.pixel(x: 2, y: 7) && frame.pixel(x: 3, y: 6) && frame.pixel(x: 1, y: 8))
        #expect(frame.pixel(x: 2, y: 10) && !frame.pixel(x: 0, y: 10) && !frame.pixel(x: 2, y: 11))
        let lit = (0..<6).flatMap { x in (0..<16).map { (x, $0) } }.filter { frame.pixel(x: $0.0, y: $0.1) }.count
        #expect(lit == 3 + 2 + 3 + 3 + 3 + 2 + 3)
    }

    @Test("newline starts 8 rows down; unknown characters are a hollow box")
    func newlineAndReplacement() {
        var frame = Framebuffer(panel: .size128x64)
        frame.drawText("-\n-", x: 0, y: 0)
        #expect(frame.byte(page: 0, column: 0) == 0x08 && frame.byte(page: 1, column: 0) == 0x08)
        frame.clear()
        frame.drawText("é", x: 0, y: 0)
        #expect(Array(frame.bytes[0..<5]) == [0x7F, 0x41, 0x41, 0x41, 0x7F])
        #expect(Framebuffer.textWidth("abc") == 18)
    }

    @Test("the font covers 0x20-0x7E with distinct 5x7 glyphs; space is blank")
    func fontCoverage() {
        let characters = (0x20...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }
        let glyphs = characters.map { Framebuffer.Font5x7.rows(for: $0) }
        #expect(glyphs.allSatisfy { $0.count == 7 && $0.allSatisfy { $0 < 0b100000 } })
        #expect(Set(glyphs).count == 95)
        #expect(glyphs[0].allSatisfy { $0 == 0 })
        #expect(glyphs.dropFirst().allSatisfy { $0.contains { $0 != 0 } })
        #expect(!glyphs.contains(Framebuffer.Font5x7.replacementRows))
        #expect(Framebuffer.Font5x7.columns(for: "!") == [0x00, 0x00, 0x5F, 0x00, 0x00])
    }
}

// MARK: - Updates

@Suite("SSD1306 updates")
struct SSD1306UpdateTests {
    @Test("partial update sends only the changed column and page")
    func singlePixel() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 10, y: 20)                   // page 2, bit 4
        let region = try await oled.show(frame)
        #expect(try region == Framebuffer.Region(columns: 10...10, pages: 2...2))
        #expect(messages(bus.trace) == [
            Message(control: 0x00, payload: [0x21, 10, 10, 0x22, 2, 2]),
            Message(control: 0x40, payload: [0x10]),
        ])
        #expect(chip.registers.columnWindow == 10...10)
        #expect(chip.registers.pageWindow == 2...2)
        #expect(chip.ramByte(page: 2, column: 10) == 0x10)
        #expect(chip.isLit(x: 10, y: 20))
        #expect(chip.gddram.filter { $0 != 0 }.count == 1)

        bus.clearTrace()
        #expect(try await oled.show(frame) == nil)
        #expect(bus.trace.isEmpty, "nothing changed, nothing sent")
    }

    @Test("partial update of a bounding box: one message on I2C")
    func boundingBoxI2C() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 5, y: 0)
        frame.setPixel(x: 40, y: 63)
        try await oled.show(frame)
        let sent = messages(bus.trace)
        #expect(sent.count == 2)
        #expect(sent.first?.payload == [0x21, 5, 40, 0x22, 0, 7])
        #expect(sent.last?.control == 0x40)
        #expect(sent.last?.payload.count == 36 * 8)
        #expect(chip.ramByte(page: 0, column: 5) == 0x01 && chip.ramByte(page: 7, column: 40) == 0x80)
        #expect(chip.gddram.filter { $0 != 0 }.count == 2)
    }

    @Test("partial update on SMBus-only: 31-byte chunks after 40h, same result in GDDRAM")
    func boundingBoxSMBus() async throws {
        let (chip, bus) = rig(functionality: .smbusOnly)
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        var frame = oled.makeFramebuffer()
        frame.drawText("SMBus", x: 5, y: 0)
        frame.setPixel(x: 40, y: 63)
        try await oled.show(frame)
        let sent = messages(bus.trace)
        #expect(sent.first == Message(control: 0x00, payload: [0x21, 5, 40, 0x22, 0, 7]))
        let data = sent.dropFirst()
        // 288 bytes = 9 x 31 + 9, every chunk's command byte is 40h (never 40h + offset).
        #expect(data.map(\.payload.count) == [Int](repeating: 31, count: 9) + [9])
        #expect(data.allSatisfy { $0.control == 0x40 })
        #expect(Array(frame.bytes[5...34]) == (0..<30).map { chip.ramByte(page: 0, column: 5 + $0) })
        #expect(chip.ramByte(page: 7, column: 40) == 0x80)
        #expect(chip.protocolViolations.isEmpty)
        let mismatches = (0..<128).flatMap { x in (0..<64).map { (x, $0) } }
            .filter { chip.isLit(x: $0.0, y: $0.1) != frame.pixel(x: $0.0, y: $0.1) }
        #expect(mismatches.isEmpty)
    }

    @Test("full update sends the whole window even when little changed")
    func fullUpdate() async throws {
        let (_, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 0, y: 0)
        bus.clearTrace()
        try await oled.showFull(frame)
        let sent = messages(bus.trace)
        #expect(sent.map(\.payload.count) == [6, 1024])
        #expect(sent.first?.payload == [0x21, 0, 127, 0x22, 0, 7])
    }

    @Test("a write that fails makes the next update a full one")
    func failedWrite() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 64, y: 32)
        chip.failWrites(afterMessages: 1)           // the window command gets through, the data does not
        await #expect(throws: HardwareError.self) { try await oled.show(frame) }
        #expect(await oled.displayedFramebuffer == nil)
        chip.failWrites(afterMessages: nil)
        bus.clearTrace()
        #expect(try await oled.show(frame) == frame.fullRegion)
        #expect(messages(bus.trace).last?.payload.count == 1024)
        #expect(chip.isLit(x: 64, y: 32))
    }

    @Test("a framebuffer of another size is refused")
    func wrongSize() async throws {
        let (_, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        await expectInvalidSetting { try await oled.show(Framebuffer(panel: .size128x32)) }
        await expectInvalidSetting { try await oled.showFull(try Framebuffer(width: 64, height: 64)) }
        #expect(bus.trace.isEmpty)
    }

    @Test("text through the driver lights the glyph's pixels on the glass")
    func textOnGlass() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        var frame = oled.makeFramebuffer()
        frame.drawText("A", x: 0, y: 0)
        try await oled.show(frame)
        let art = chip.asciiArt().split(separator: "\n").prefix(8).map { String($0.prefix(6)) }
        #expect(art == [".###..", "#...#.", "#...#.", "#####.", "#...#.", "#...#.", "#...#.", "......"])
    }
}

// MARK: - Settings and safe state

@Suite("SSD1306 settings")
struct SSD1306SettingsTests {
    @Test("contrast: 81h with the level; out-of-range levels throw and send nothing")
    func contrast() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        try await oled.setContrast(level: 0x20)
        #expect(messages(bus.trace) == [Message(control: 0x00, payload: [0x81, 0x20])])
        #expect(chip.registers.contrast == 0x20)
        #expect(await oled.contrast == SSD1306.Contrast(rawValue: 0x20))
        bus.clearTrace()
        await expectInvalidSetting { try await oled.setContrast(level: 256) }
        await expectInvalidSetting { try await oled.setContrast(level: -1) }
        await expectInvalidSetting { _ = try SSD1306.Contrast(level: 1000) }
        #expect(bus.trace.isEmpty)
        #expect(chip.registers.contrast == 0x20)
    }

    @Test("invert, display on/off and the safe state")
    func displayModes() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        bus.clearTrace()
        try await oled.setInverted(true)
        #expect(chip.registers.inverted && chip.isLit(x: 0, y: 0))
        try await oled.setInverted(false)
        #expect(!chip.isLit(x: 0, y: 0))
        try await oled.enterSafeState()
        try await oled.enterSafeState()             // idempotent
        #expect(!chip.registers.isDisplayOn)
        #expect(await !oled.isDisplayOn)
        try await oled.setDisplayOn(true)
        #expect(chip.registers.isDisplayOn)
        #expect(messages(bus.trace).map(\.payload) == [[0xA7], [0xA6], [0xAE], [0xAE], [0xAF]])
    }

    @Test("safe state keeps GDDRAM: the picture comes back")
    func safeStateKeepsPicture() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        var frame = oled.makeFramebuffer()
        frame.drawRect(x: 0, y: 0, width: 128, height: 64)
        try await oled.show(frame)
        try await oled.enterSafeState()
        #expect(!chip.isLit(x: 0, y: 0))
        #expect(chip.ramPixel(column: 0, row: 0))
        try await oled.apply(.display(on: true))
        #expect(chip.isLit(x: 0, y: 0) && chip.isLit(x: 127, y: 63) && !chip.isLit(x: 1, y: 1))
    }

    @Test("apply() carries out each command")
    func applyCommands() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address))
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 1, y: 1)
        try await oled.apply(.show(frame))
        #expect(chip.ramPixel(column: 1, row: 1))
        try await oled.apply(.contrast(.maximum))
        #expect(chip.registers.contrast == 0xFF)
        try await oled.apply(.invert(true))
        #expect(chip.registers.inverted)
        try await oled.apply(.display(on: false))
        #expect(!chip.registers.isDisplayOn)
        try await oled.apply(.clear)
        #expect(chip.gddram.allSatisfy { $0 == 0 })
        frame.setPixel(x: 2, y: 2)
        try await oled.apply(.showFull(frame))
        #expect(chip.ramPixel(column: 2, row: 2) && chip.ramPixel(column: 1, row: 1))
        #expect(chip.protocolViolations.isEmpty)
    }

    @Test("rotated by 180 degrees, the top left pixel lights the bottom right of the glass")
    func rotation() async throws {
        let (chip, bus) = rig()
        let oled = try await SSD1306(device: bus.device(address), configuration: .init(orientation: .rotated180))
        var frame = oled.makeFramebuffer()
        frame.setPixel(x: 0, y: 0)
        try await oled.show(frame)
        #expect(chip.isLit(x: 127, y: 63))
        #expect(!chip.isLit(x: 0, y: 0))
    }
}

// MARK: - Simulated chip

@Suite("SimulatedSSD1306 decoder")
struct SimulatedSSD1306Tests {
    @Test("Co = 1 control bytes: one byte each, a multi-byte command across them (Section 8.1.5.1)")
    func continuationBit() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x80, 0x81, 0x80, 0x33, 0x80, 0xAF, 0x40, 0xFF, 0xFF])
        #expect(chip.registers.contrast == 0x33)
        #expect(chip.registers.isDisplayOn)
        #expect(chip.commandLog == [[0x81, 0x33], [0xAF]])
        #expect(chip.ramByte(page: 0, column: 0) == 0xFF && chip.ramByte(page: 0, column: 1) == 0xFF)
        #expect(chip.dataBytesReceived == 2)
        #expect(chip.protocolViolations.isEmpty)
    }

    @Test("parameters may arrive in a later message")
    func splitCommand() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0x21, 0x10])
        #expect(chip.hasIncompleteCommand)
        try chip.write([0x00, 0x20])
        #expect(!chip.hasIncompleteCommand)
        #expect(chip.registers.columnWindow == 16...32)
    }

    @Test("vertical addressing fills a window column by column (Section 10.1.3)")
    func verticalMode() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0x20, 0x01, 0x21, 0, 1, 0x22, 0, 1])
        try chip.write([0x40, 1, 2, 3, 4])
        #expect(chip.ramByte(page: 0, column: 0) == 1 && chip.ramByte(page: 1, column: 0) == 2)
        #expect(chip.ramByte(page: 0, column: 1) == 3 && chip.ramByte(page: 1, column: 1) == 4)
        #expect(chip.registers.columnPointer == 0 && chip.registers.pagePointer == 0)   // wrapped to the start
        try chip.write([0x40, 5])
        #expect(chip.ramByte(page: 0, column: 0) == 5)
    }

    @Test("horizontal addressing wraps at the window's end back to its start")
    func horizontalWrap() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0x20, 0x00, 0x21, 126, 127, 0x22, 6, 7])
        try chip.write([0x40, 1, 2, 3, 4, 5])
        #expect(chip.ramByte(page: 6, column: 126) == 5)   // 5th byte wrapped to the start
        #expect(chip.ramByte(page: 6, column: 127) == 2)
        #expect(chip.ramByte(page: 7, column: 126) == 3 && chip.ramByte(page: 7, column: 127) == 4)
    }

    @Test("page addressing: B0h-B7h and the column nibbles set the pointer")
    func pageMode() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0xB3, 0x05, 0x12])            // page 3, column 25h
        try chip.write([0x40, 0xAA])
        #expect(chip.ramByte(page: 3, column: 0x25) == 0xAA)
    }

    @Test("bytes that break the datasheet's rules are recorded")
    func violations() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0xFF])                 // not a command
        try chip.write([0x01, 0xAF])                 // control byte with bit 0 set
        try chip.write([0x00, 0xA8, 0x05])           // multiplex ratio below 16
        try chip.write([0x00, 0x20, 0x03])           // invalid addressing mode
        try chip.write([0x00, 0x21, 0x10, 0x05])     // column window start after its end
        #expect(chip.protocolViolations.count == 5)
        #expect(chip.registers.columnWindow == 0...127)
        #expect(chip.registers.multiplexRatio == 64)
        #expect(chip.registers.addressingMode == .page)
        chip.clearLogs()
        #expect(chip.protocolViolations.isEmpty)
    }

    @Test("reset returns the settings to Table 9-1's reset values and keeps GDDRAM")
    func reset() throws {
        let chip = SimulatedSSD1306(ramFill: 0x11)
        try chip.write([0x00, 0xAF, 0x81, 0x01, 0xA7])
        chip.reset()
        #expect(chip.registers == SimulatedSSD1306.Registers())
        #expect(!chip.registers.isDisplayOn && chip.registers.contrast == 0x7F)
        #expect(chip.gddram.allSatisfy { $0 == 0x11 })
        #expect(try chip.read(count: 1) == [0x40])
    }

    @Test("entire display on lights every pixel; multiplex limits the rows driven")
    func glassModel() throws {
        let chip = SimulatedSSD1306()
        try chip.write([0x00, 0xAF, 0xA5])
        #expect(chip.asciiArt().allSatisfy { $0 == "#" || $0 == "\n" })
        try chip.write([0x00, 0xA4, 0xA7, 0xA8, 0x1F, 0xC8, 0xA1])
        #expect(chip.isLit(x: 0, y: 31) && !chip.isLit(x: 0, y: 32))
    }
}

// MARK: - Message grouping

@Suite("SSD1306Protocol messages")
struct SSD1306ProtocolTests {
    @Test("commands are grouped without being split")
    func commandGrouping() {
        #expect(SSD1306Protocol.commandPayloads([[1, 2], [3, 4, 5], [6]], limit: 4) == [[1, 2], [3, 4, 5, 6]])
        #expect(SSD1306Protocol.commandPayloads([[1, 2, 3]], limit: 2) == [[1, 2, 3]])
        #expect(SSD1306Protocol.commandPayloads([], limit: 31) == [])
    }

    @Test("data is cut in order into chunks of the limit")
    func dataChunks() {
        let data = (0..<70).map { UInt8($0) }
        let chunks = SSD1306Protocol.dataPayloads(data, limit: 31)
        #expect(chunks.map(\.count) == [31, 31, 8])
        #expect(chunks.flatMap { $0 } == data)
    }
}
