// MARK: - Lines and rectangles

extension Framebuffer {
    /// Lines are drawn pixel by pixel within this box around the image; ends farther out are
    /// first clipped to it, so any `Int` coordinates are safe and quick.
    static let lineGuard = 4096

    /// Draws a straight line from (`x0`, `y0`) to (`x1`, `y1`), both ends included (Bresenham's
    /// algorithm). Parts outside the image are clipped; ends more than 4096 pixels outside are
    /// first moved along the line to 4096 (rounded to whole pixels).
    public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, _ on: Bool = true) {
        let near = -Self.lineGuard...Self.lineGuard
        if near.contains(x0), near.contains(y0), near.contains(x1), near.contains(y1) {
            drawClippedLine(x0, y0, x1, y1, on)
        } else if let (a, b, c, d) = Self.clipToGuard(x0, y0, x1, y1) {
            drawClippedLine(a, b, c, d, on)
        }
    }

    /// Bresenham's algorithm for ends within ``lineGuard``: integer steps only.
    private mutating func drawClippedLine(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ on: Bool) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let stepX = x0 < x1 ? 1 : -1, stepY = y0 < y1 ? 1 : -1
        var x = x0, y = y0, error = dx + dy
        while true {
            setPixel(x: x, y: y, on)
            if x == x1 && y == y1 { return }
            let twice = 2 * error
            if twice >= dy { error += dy; x += stepX }
            if twice <= dx { error += dx; y += stepY }
        }
    }

    /// Liang-Barsky clipping of a line to the ±``lineGuard`` box; `nil` when it misses the box.
    static func clipToGuard(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) -> (Int, Int, Int, Int)? {
        let low = Double(-lineGuard), high = Double(lineGuard)
        let startX = Double(x0), startY = Double(y0)
        let dx = Double(x1) - startX, dy = Double(y1) - startY
        var enter = 0.0, leave = 1.0
        for (p, q) in [(-dx, startX - low), (dx, high - startX), (-dy, startY - low), (dy, high - startY)] {
            if p == 0 {
                if q < 0 { return nil }
                continue
            }
            let t = q / p
            if p < 0 { enter = max(enter, t) } else { leave = min(leave, t) }
            if enter > leave { return nil }
        }
        func pixel(_ value: Double) -> Int { Int(min(max(value.rounded(), low), high)) }
        return (pixel(startX + enter * dx), pixel(startY + enter * dy), pixel(startX + leave * dx), pixel(startY + leave * dy))
    }

    /// The part of `start ..< start + length` inside `0 ..< limit`, without overflowing.
    static func clipped(_ start: Int, _ length: Int, to limit: Int) -> Range<Int> {
        guard length > 0, start < limit else { return 0..<0 }
        let (end, overflow) = start.addingReportingOverflow(length)
        let upper = overflow ? limit : min(end, limit)
        let lower = max(start, 0)
        return lower < upper ? lower..<upper : 0..<0
    }

    /// Draws a horizontal line of `length` pixels from (`x`, `y`) to the right.
    public mutating func drawHorizontalLine(x: Int, y: Int, length: Int, _ on: Bool = true) {
        guard y >= 0, y < height else { return }
        for column in Self.clipped(x, length, to: width) { setPixel(x: column, y: y, on) }
    }

    /// Draws a vertical line of `length` pixels from (`x`, `y`) downwards.
    public mutating func drawVerticalLine(x: Int, y: Int, length: Int, _ on: Bool = true) {
        guard x >= 0, x < width else { return }
        for row in Self.clipped(y, length, to: height) { setPixel(x: x, y: row, on) }
    }

    /// Draws the outline of a `width` x `height` rectangle whose top left pixel is (`x`, `y`), or
    /// fills it when `filled` is true. Nothing is drawn for a zero or negative size.
    public mutating func drawRect(x: Int, y: Int, width: Int, height: Int, filled: Bool = false, _ on: Bool = true) {
        guard width > 0, height > 0 else { return }
        if filled {
            for row in Self.clipped(y, height, to: self.height) { drawHorizontalLine(x: x, y: row, length: width, on) }
            return
        }
        drawHorizontalLine(x: x, y: y, length: width, on)
        drawVerticalLine(x: x, y: y, length: height, on)
        let (bottom, bottomOverflow) = y.addingReportingOverflow(height - 1)
        if !bottomOverflow { drawHorizontalLine(x: x, y: bottom, length: width, on) }
        let (right, rightOverflow) = x.addingReportingOverflow(width - 1)
        if !rightOverflow { drawVerticalLine(x: right, y: y, length: height, on) }
    }
}

// MARK: - Text

extension Framebuffer {
    /// Draws `text` in the built-in 5x7 font (``Font5x7``) with its first glyph's top left pixel
    /// at (`x`, `y`); each character advances 6 columns (5 + 1 blank). Characters outside
    /// ASCII 0x20-0x7E are drawn as a hollow box; a newline starts a new line 8 rows further down
    /// at `x`. Only the glyphs' lit pixels are drawn (the background is left as it is). Parts
    /// outside the image are clipped.
    ///
    /// - Returns: The column just after the last character drawn (of the last line).
    @discardableResult
    public mutating func drawText(_ text: String, x: Int, y: Int, _ on: Bool = true) -> Int {
        // Positions far outside the image must not overflow: past Int.max nothing is visible.
        let limit = Int.max - Font5x7.advance - Font5x7.lineHeight
        var cursorX = x, cursorY = y
        for character in text {
            if character == "\n" {
                guard cursorY < limit else { break }
                cursorX = x
                cursorY += Font5x7.lineHeight
                continue
            }
            guard cursorX < limit else { continue }
            if cursorX > -Font5x7.advance && cursorX < width && cursorY > -Font5x7.lineHeight && cursorY < height {
                let columns = Font5x7.columns(for: character)
                for (dx, bits) in columns.enumerated() {
                    for dy in 0..<Font5x7.glyphHeight where bits & (1 << UInt8(dy)) != 0 {
                        setPixel(x: cursorX + dx, y: cursorY + dy, on)
                    }
                }
            }
            cursorX += Font5x7.advance
        }
        return cursorX
    }

    /// The width in pixels that ``drawText(_:x:y:_:)`` uses for a one-line `text`, including the
    /// blank column after the last character.
    public static func textWidth(_ text: String) -> Int {
        text.count * Font5x7.advance
    }
}
