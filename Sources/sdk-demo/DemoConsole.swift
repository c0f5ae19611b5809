#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to a file descriptor at once (no buffer that a signal or a child process could
/// overtake), retrying interrupted and partial writes.
func writeOutput(_ text: String, to descriptor: Int32 = STDOUT_FILENO) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

/// Where the demo's events go: plain lines, JSON lines, or the dashboard that redraws in place.
actor DemoConsole {
    enum Mode: Sendable, Equatable {
        case plain
        case json
        /// A terminal that understands cursor movement; `color` unless NO_COLOR is set.
        case dashboard(color: Bool)
    }

    let mode: Mode
    private var board = Dashboard()
    /// Lines of the block drawn last, which the next redraw moves back over.
    private var drawn = 0

    init(mode: Mode) {
        self.mode = mode
        if case .dashboard(let color) = mode { board.color = color }
    }

    /// `--json` → JSON lines; `--plain`, a stdout that is not a terminal, or TERM=dumb (or unset)
    /// → plain lines; otherwise the dashboard, in color unless NO_COLOR is set.
    static func choose(json: Bool, plain: Bool) -> Mode {
        if json { return .json }
        let term = environment("TERM")
        if plain || isatty(STDOUT_FILENO) == 0 || term == nil || term == "dumb" { return .plain }
        return .dashboard(color: environment("NO_COLOR") == nil)
    }

    /// The variable's value, nil when it is unset or empty.
    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    func emit(_ event: DemoEvent) {
        switch mode {
        case .plain:
            write(event.plainLines)
        case .json:
            write(event.jsonLines)
        case .dashboard:
            if case .start = event {
                // The start lines stay above the block, the first of them saying which board it is.
                write(event.plainLines + [""])
                write(["\u{1B}[?25l"], newline: false)      // hide the cursor while redrawing
            }
            board.update(event)
            redraw()
            if case .stop = event {
                write(event.plainLines)
                write(["\u{1B}[?25h"], newline: false)      // and show it again
                drawn = 0
            }
        }
    }

    /// Moves to the block's first line, clears to the end of the screen and draws the block anew.
    private func redraw() {
        let lines = board.lines(width: Self.terminalWidth())
        let back = drawn > 0 ? "\u{1B}[\(drawn)F" : ""
        write([back + "\u{1B}[J" + lines.joined(separator: "\n")])
        drawn = lines.count
    }

    private func write(_ lines: [String], newline: Bool = true) {
        writeOutput(lines.map { newline ? $0 + "\n" : $0 }.joined())
    }

    /// The terminal's width (TIOCGWINSZ), or 80 when it does not say.
    static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
