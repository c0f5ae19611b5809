import IoTSDK

/// A Solomon Systech SSD1306 OLED controller (128x64 or 128x32 monochrome panels) on I2C.
///
/// ```swift
/// let oled = try await SSD1306(device: bus.device(SSD1306.defaultAddress))
/// var frame = await oled.makeFramebuffer()
/// frame.drawText("21.5 C", x: 0, y: 0)
/// try await oled.show(frame)        // sends only the columns and pages that changed
/// ```
///
/// The driver keeps a copy of what it last wrote to the chip's display RAM (GDDRAM) and sends
/// only the smallest window of pages and columns that differs (Set Column Address 21h, Set Page
/// Address 22h, then the data in horizontal addressing mode). Commands go in messages that start
/// with the control byte 00h, display data in messages that start with 40h (datasheet Section
/// 8.1.5.1), through `I2CDevice.writeRegisters`: on adapters that do plain I2C an update is one
/// message; on SMBus-only adapters it is SMBus I2C-block writes of at most 31 bytes after the
/// control byte. The chip has no identity register readable over I2C, so a wrong part at the
/// address cannot be detected; nothing at the address is a `HardwareError` with code
/// `.noAcknowledge`.
///
/// As an `Actuator` it takes ``Command``s; its safe state is display off (AEh), which keeps GDDRAM
/// and the settings, so the picture comes back with ``setDisplayOn(_:)``.
public actor SSD1306: Actuator {
    /// What ``apply(_:)`` does.
    public enum Command: Sendable, Hashable {
        /// Shows a framebuffer, sending only what changed (``SSD1306/show(_:)``).
        case show(Framebuffer)
        /// Shows a framebuffer, sending all of it (``SSD1306/showFull(_:)``).
        case showFull(Framebuffer)
        /// Blanks the display RAM (``SSD1306/clear()``).
        case clear
        /// Sets the contrast (``SSD1306/setContrast(_:)``).
        case contrast(Contrast)
        /// Turns the display on or off (``SSD1306/setDisplayOn(_:)``).
        case display(on: Bool)
        /// Inverts the display or sets it back to normal (``SSD1306/setInverted(_:)``).
        case invert(Bool)
    }

    /// The address with SA0 (the D/C# pin) low: 0x3C (0111100b), Section 8.1.5.
    public static let defaultAddress: I2CAddress = 0x3C
    /// The address with SA0 high: 0x3D (0111101b).
    public static let alternateAddress: I2CAddress = 0x3D

    /// The chip's address on its bus.
    public nonisolated let device: I2CDevice
    /// The settings the chip was initialised with.
    public nonisolated let configuration: Configuration
    /// The most bytes after the control byte in one message, from the configuration and adapter.
    let payloadLimit: Int

    /// What GDDRAM holds, as far as the driver knows; `nil` after a failed write, which makes the
    /// next ``show(_:)`` send the whole image.
    public private(set) var displayedFramebuffer: Framebuffer?
    /// Whether the display is on (AFh) rather than in sleep mode (AEh), as last set.
    public private(set) var isDisplayOn = false
    /// The contrast last set.
    public private(set) var contrast: Contrast
    /// Whether the display is inverted (A7h), as last set.
    public private(set) var isInverted = false

    /// Initialises the chip: the configuration sequence of
    /// `SSD1306Protocol.configurationCommands(for:)`, blank GDDRAM for the panel's pages, then
    /// display on (AFh).
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a `maximumPayloadPerMessage` outside what the
    ///   adapter allows; `HardwareError` (`.noAcknowledge` when nothing answers at the address,
    ///   `.unsupported` when the adapter has neither plain I2C nor SMBus I2C-block writes).
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        self.device = device
        self.configuration = configuration
        payloadLimit = try Self.payloadLimit(configuration.maximumPayloadPerMessage,
                                             adapterHasI2C: device.bus.functionality.contains(.i2c),
                                             chip: "SSD1306 at \(device.location)")
        contrast = configuration.contrast
        try reinitialize()
    }

    /// "SSD1306 at 0x3c on i2c-1", for messages.
    public nonisolated var chipDescription: String { "SSD1306 at \(device.location)" }

    /// The panel this driver draws on.
    public nonisolated var panel: Panel { configuration.panel }

    /// A blank framebuffer the size of the panel.
    public nonisolated func makeFramebuffer() -> Framebuffer { Framebuffer(panel: configuration.panel) }

    // MARK: - Actuator

    /// Carries out `command`; see ``Command``.
    ///
    /// - Throws: What the matching method throws.
    public func apply(_ command: Command) async throws {
        switch command {
        case .show(let framebuffer): try show(framebuffer)
        case .showFull(let framebuffer): try showFull(framebuffer)
        case .clear: try clear()
        case .contrast(let contrast): try setContrast(contrast)
        case .display(let on): try setDisplayOn(on)
        case .invert(let inverted): try setInverted(inverted)
        }
    }

    /// Turns the display off (AEh, sleep mode): the panel goes dark and the charge pump stops,
    /// while GDDRAM and the settings are kept. Idempotent; no waiting, so it finishes in a
    /// cancelled task too.
    ///
    /// - Throws: `HardwareError` if the command could not be sent.
    public func enterSafeState() async throws {
        try setDisplayOn(false)
    }

    // MARK: - Setup

    /// Sends the whole initialisation sequence again and clears GDDRAM, e.g. after the module
    /// lost power. Contrast and inversion go back to the configuration's values.
    ///
    /// - Throws: `HardwareError` if a transfer fails.
    public func reinitialize() throws {
        isDisplayOn = false
        try sendCommands(SSD1306Protocol.configurationCommands(for: configuration))
        contrast = configuration.contrast
        isInverted = false
        try showFull(makeFramebuffer())
        try setDisplayOn(true)
    }

    // MARK: - Picture

    /// Shows `framebuffer`, sending only the smallest window of columns and pages in which it
    /// differs from what GDDRAM holds (21h and 22h, then the window's bytes page by page). Sends
    /// nothing when nothing changed, and everything when the driver does not know what GDDRAM
    /// holds (after a failed write).
    ///
    /// - Returns: The window sent, or `nil` when nothing changed.
    /// - Throws: `SensorError(.invalidSetting)` when `framebuffer` is not the panel's size;
    ///   `HardwareError` if a transfer fails.
    @discardableResult
    public func show(_ framebuffer: Framebuffer) throws -> Framebuffer.Region? {
        try checkSize(of: framebuffer)
        guard let previous = displayedFramebuffer else {
            try write(framebuffer, region: framebuffer.fullRegion)
            return framebuffer.fullRegion
        }
        guard let region = framebuffer.changedRegion(from: previous) else { return nil }
        try write(framebuffer, region: region)
        return region
    }

    /// Shows `framebuffer`, sending all of it (window = every column of the panel's pages).
    ///
    /// - Throws: `SensorError(.invalidSetting)` when `framebuffer` is not the panel's size;
    ///   `HardwareError` if a transfer fails.
    public func showFull(_ framebuffer: Framebuffer) throws {
        try checkSize(of: framebuffer)
        try write(framebuffer, region: framebuffer.fullRegion)
    }

    /// Blanks the panel: writes zeros to every byte of its pages in GDDRAM.
    ///
    /// - Throws: `HardwareError` if a transfer fails.
    public func clear() throws {
        try showFull(makeFramebuffer())
    }

    // MARK: - Display settings

    /// Sets the contrast (81h).
    ///
    /// - Throws: `HardwareError` if the command could not be sent.
    public func setContrast(_ contrast: Contrast) throws {
        try sendCommands([SSD1306Protocol.contrast(contrast)])
        self.contrast = contrast
    }

    /// Sets the contrast from a level that comes from input (81h).
    ///
    /// - Throws: `SensorError(.invalidSetting)` unless `level` is in 0...255 (nothing is sent);
    ///   `HardwareError` if the command could not be sent.
    public func setContrast(level: Int) throws {
        try setContrast(try Contrast(level: level))
    }

    /// Turns the display on (AFh) or off into sleep mode (AEh); GDDRAM is kept either way.
    ///
    /// - Throws: `HardwareError` if the command could not be sent.
    public func setDisplayOn(_ on: Bool) throws {
        try sendCommands([SSD1306Protocol.display(on: on)])
        isDisplayOn = on
    }

    /// Inverts the display (A7h: a 0 in RAM lights the pixel) or sets it back to normal (A6h).
    ///
    /// - Throws: `HardwareError` if the command could not be sent.
    public func setInverted(_ inverted: Bool) throws {
        try sendCommands([SSD1306Protocol.inverted(inverted)])
        isInverted = inverted
    }
}

// MARK: - I/O

extension SSD1306 {
    /// Sends `commands` after the control byte 00h, grouped into messages of at most
    /// ``payloadLimit`` bytes without splitting a command.
    func sendCommands(_ commands: [[UInt8]]) throws {
        for payload in SSD1306Protocol.commandPayloads(commands, limit: payloadLimit) {
            try device.writeRegisters(SSD1306Protocol.commandControlByte, payload)
        }
    }

    /// Sends GDDRAM data after the control byte 40h, at most ``payloadLimit`` bytes a message.
    func sendData(_ data: [UInt8]) throws {
        for payload in SSD1306Protocol.dataPayloads(data, limit: payloadLimit) {
            try device.writeRegisters(SSD1306Protocol.dataControlByte, payload)
        }
    }

    /// Sets the window to `region` and writes `framebuffer`'s bytes in it; forgets what GDDRAM
    /// holds until the write has succeeded.
    func write(_ framebuffer: Framebuffer, region: Framebuffer.Region) throws {
        displayedFramebuffer = nil
        try sendCommands(SSD1306Protocol.windowCommands(for: region))
        try sendData(framebuffer.bytes(in: region))
        displayedFramebuffer = framebuffer
    }

    func checkSize(of framebuffer: Framebuffer) throws(SensorError) {
        let panel = configuration.panel
        guard framebuffer.width == panel.width, framebuffer.height == panel.height else {
            throw SensorError(.invalidSetting, chip: chipDescription,
                              "a \(framebuffer.width)x\(framebuffer.height) framebuffer does not fit the \(panel) panel: make it with makeFramebuffer() or Framebuffer(panel:)")
        }
    }

    /// The payload limit for a configured maximum on an adapter with or without plain I2C.
    ///
    /// - Throws: `SensorError(.invalidSetting)` when `requested` is outside
    ///   7...31 (SMBus-only) or 7...8191 (I2C).
    static func payloadLimit(_ requested: Int?, adapterHasI2C: Bool, chip: String) throws(SensorError) -> Int {
        let natural = adapterHasI2C ? SSD1306Protocol.i2cPayloadLimit : SSD1306Protocol.smbusPayloadLimit
        guard let requested else { return natural }
        guard (SSD1306Protocol.longestCommand...natural).contains(requested) else {
            throw SensorError(.invalidSetting, chip: chip,
                              "maximumPayloadPerMessage \(requested) is out of range: \(SSD1306Protocol.longestCommand)...\(natural) bytes on \(adapterHasI2C ? "an adapter with plain I2C" : "an SMBus-only adapter (one I2C-block write)")")
        }
        return requested
    }
}
