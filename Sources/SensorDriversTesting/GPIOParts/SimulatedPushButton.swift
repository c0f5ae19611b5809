import IoTSDK

/// A push button on a `SimulatedGPIO` line, pressed by a test or by the demo's simulated
/// finger, with the contact bounce of a real switch: a press is a burst of level changes that
/// ends at the pressed level.
public struct SimulatedPushButton: Sendable {
    public let board: SimulatedGPIO
    /// The chip's label (`pinctrl-bcm2711` on the default simulated board).
    public let chipLabel: String
    public let offset: UInt32
    /// The level a pressed button puts on the pin: false for a button to GND (with a pull-up),
    /// true for one to 3.3 V.
    public let pressedLevel: Bool

    public init(board: SimulatedGPIO, chipLabel: String = "pinctrl-bcm2711", offset: UInt32, pressedLevel: Bool = false) {
        self.board = board
        self.chipLabel = chipLabel
        self.offset = offset
        self.pressedLevel = pressedLevel
    }

    /// Closes the contact, bouncing `bounces` times first (each bounce: pressed, then open).
    /// - Throws: `HardwareError(.notFound)` for a line the board does not have.
    public func press(bounces: Int = 3) throws(HardwareError) {
        try bounce(to: pressedLevel, times: bounces)
    }

    /// Opens the contact, bouncing `bounces` times first; the line then floats to its bias.
    public func release(bounces: Int = 3) throws(HardwareError) {
        try bounce(to: !pressedLevel, times: bounces)
        try board.drive(chip: chipLabel, offset: offset, to: nil)
    }

    /// A spike to the pressed level and straight back, shorter than any debounce time.
    public func glitch() throws(HardwareError) {
        try board.drive(chip: chipLabel, offset: offset, to: pressedLevel)
        try board.drive(chip: chipLabel, offset: offset, to: nil)
    }

    /// Presses, holds for `duration` (sleeping, not blocking) and releases.
    /// - Throws: `HardwareError`; `CancellationError` if cancelled while held (the button is released).
    public func click(holding duration: Duration, bounces: Int = 3) async throws {
        try press(bounces: bounces)
        do {
            try await Task.sleep(for: duration)
        } catch {
            try release(bounces: 0)
            throw error
        }
        try release(bounces: bounces)
    }

    private func bounce(to level: Bool, times: Int) throws(HardwareError) {
        for _ in 0..<max(0, times) {
            try board.drive(chip: chipLabel, offset: offset, to: level)
            try board.drive(chip: chipLabel, offset: offset, to: !level)
        }
        try board.drive(chip: chipLabel, offset: offset, to: level)
    }
}
