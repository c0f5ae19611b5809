import IoTSDK
import Synchronization

/// A simulated Solomon Systech SSD1306 OLED controller with its glass, for `SimulatedI2CBus`.
///
/// Written from the datasheet (SSD1306 Rev 1.5), not from the driver: it decodes the I2C byte
/// stream (control bytes with Co and D/C#, Section 8.1.5.1), every command of Table 9-1 with its
/// parameters (also when parameters arrive in later messages), and keeps the 128 x 8 pages of
/// GDDRAM with the horizontal, vertical and page addressing modes of Section 10.1.3. Tests read
/// back GDDRAM (``ramByte(page:column:)``, ``ramPixel(column:row:)``), what the glass shows
/// (``isLit(x:y:)``, ``asciiArt(lit:dark:)``) and the settings (``registers``).
///
/// Bytes that break the datasheet's rules (a control byte with bits 5-0 set, an unknown opcode,
/// an invalid parameter) are not fatal: they are recorded in ``protocolViolations``, which a test
/// can require to be empty.
///
/// Reads return the status byte of the datasheet's status read (bit 6 = 1 while the display is
/// off, the other bits 0), repeated; the driver does not read.
///
/// ```swift
/// let oled = SimulatedSSD1306(panel: .size128x32)
/// let bus = SimulatedI2CBus(devices: [0x3C: oled])
/// // ... drive it ...
/// print(oled.asciiArt())
/// ```
public final class SimulatedSSD1306: SimulatedI2CDevice {
    /// The glass this chip drives.
    public let panel: Panel
    private let model = Mutex(SSD1306Model())
    /// Messages to accept before every write is refused, or `nil` for no fault.
    private let faultAfter = Mutex<Int?>(nil)

    /// A chip in its reset state (display off, page addressing) driving `panel`, with GDDRAM
    /// holding `ramFill` in every byte (real GDDRAM holds noise at power-on).
    public init(panel: Panel = .size128x64, ramFill: UInt8 = 0x00) {
        self.panel = panel
        model.withLock { $0.ram = [UInt8](repeating: ramFill, count: SSD1306Model.columns * SSD1306Model.pages) }
    }

    // MARK: - SimulatedI2CDevice

    /// Decodes one write message. Throws `.noAcknowledge` while a fault is injected
    /// (``failWrites(afterMessages:)``); the message then has no effect.
    public func write(_ bytes: [UInt8]) throws(HardwareError) {
        let refuse = faultAfter.withLock { remaining -> Bool in
            guard let left = remaining else { return false }
            if left <= 0 { return true }
            remaining = left - 1
            return false
        }
        if refuse {
            throw HardwareError(.noAcknowledge, "the simulated SSD1306 did not acknowledge (injected fault)", errno: 6)
        }
        model.withLock { $0.receive(bytes) }
    }

    /// Returns the status byte `count` times: bit 6 set while the display is off.
    public func read(count: Int) throws(HardwareError) -> [UInt8] {
        let status: UInt8 = model.withLock { $0.registers.isDisplayOn } ? 0x00 : 0x40
        return [UInt8](repeating: status, count: count)
    }

    // MARK: - Control

    /// A pulse on RES# (Section 8.5): the settings go back to their reset values and a partly
    /// received command is dropped; GDDRAM keeps its content.
    public func reset() {
        model.withLock {
            $0.registers = Registers()
            $0.pending = []
        }
    }

    /// Fault injection: accept `messages` more write messages, then refuse every write with
    /// `.noAcknowledge` (a module that lost power or a loose wire). `nil` ends the fault.
    public func failWrites(afterMessages messages: Int?) {
        faultAfter.withLock { $0 = messages }
    }

    /// Forgets the command log, the data count and the protocol violations.
    public func clearLogs() {
        model.withLock {
            $0.commandLog = []
            $0.dataBytesReceived = 0
            $0.violations = []
        }
    }

    // MARK: - Observation

    /// The current settings.
    public var registers: Registers { model.withLock { $0.registers } }

    /// Every command executed so far, each as its opcode followed by its parameters.
    public var commandLog: [[UInt8]] { model.withLock { $0.commandLog } }

    /// GDDRAM data bytes received so far.
    public var dataBytesReceived: Int { model.withLock { $0.dataBytesReceived } }

    /// Descriptions of bytes that broke the datasheet's rules.
    public var protocolViolations: [String] { model.withLock { $0.violations } }

    /// Whether a multi-byte command is waiting for parameters.
    public var hasIncompleteCommand: Bool { model.withLock { !$0.pending.isEmpty } }

    /// All of GDDRAM: 8 pages of 128 bytes, page by page; bit 0 of a byte is the page's top row.
    public var gddram: [UInt8] { model.withLock { $0.ram } }

    /// The GDDRAM byte at `page` (0-7), `column` (0-127); 0 outside.
    public func ramByte(page: Int, column: Int) -> UInt8 {
        guard page >= 0, page < SSD1306Model.pages, column >= 0, column < SSD1306Model.columns else { return 0 }
        return model.withLock { $0.ram[page * SSD1306Model.columns + column] }
    }

    /// The GDDRAM bit for `column` (0-127), `row` (0-63); `false` outside.
    public func ramPixel(column: Int, row: Int) -> Bool {
        model.withLock { $0.ramPixel(column: column, row: row) }
    }

    /// Whether the glass pixel at (`x`, `y`) is lit, from GDDRAM and the settings: display on/off,
    /// entire display on, inverse, multiplex ratio, start line, display offset, segment re-map
    /// and COM scan direction. The module is taken to be mounted so that A1h and C8h show GDDRAM
    /// column 0, row 0 at the top left (as on common breakout boards); the COM pins
    /// configuration is kept in ``registers`` but its interleaving is not modelled.
    public func isLit(x: Int, y: Int) -> Bool {
        model.withLock { $0.isLit(x: x, y: y, rows: panel.rows) }
    }

    /// What the glass shows, one text line per row: `lit` for lit pixels, `dark` for the others.
    public func asciiArt(lit: Character = "#", dark: Character = ".") -> String {
        let rows = panel.rows
        return model.withLock { state in
            (0..<rows).map { y in
                String((0..<SSD1306Model.columns).map { x in state.isLit(x: x, y: y, rows: rows) ? lit : dark })
            }.joined(separator: "\n")
        }
    }
}
