/// A 1-bit-per-pixel image in the SSD1306's GDDRAM layout (datasheet Section 8.7): the rows are
/// grouped in pages of 8, and each byte holds 8 vertically stacked pixels of one column, bit 0 the
/// top row of the page and bit 7 the bottom one. Byte `page * width + x` holds rows
/// `page * 8 ..< page * 8 + 8` of column `x`, so a page is the run of bytes the chip takes in
/// horizontal addressing mode.
///
/// A value type: draw into it (``setPixel(x:y:_:)``, ``drawLine(x0:y0:x1:y1:_:)``,
/// ``drawRect(x:y:width:height:filled:_:)``, ``drawText(_:x:y:_:)``), then hand it to
/// `SSD1306.show(_:)`. Drawing outside the image is clipped.
public struct Framebuffer: Sendable, Hashable {
    /// Columns, 1...128.
    public let width: Int
    /// Rows, a multiple of 8 in 8...64.
    public let height: Int
    /// The pixels in GDDRAM layout: `pages * width` bytes, page by page.
    public private(set) var bytes: [UInt8]

    /// The largest image GDDRAM holds: 128 columns.
    public static let maximumWidth = 128
    /// The largest image GDDRAM holds: 64 rows (8 pages).
    public static let maximumHeight = 64

    /// A blank image of the given size.
    ///
    /// - Throws: `SensorError(.invalidSetting)` unless `width` is 1...128 and `height` a multiple
    ///   of 8 in 8...64 (the GDDRAM is 128 columns by 8 pages of 8 rows).
    public init(width: Int, height: Int) throws(SensorError) {
        guard (1...Self.maximumWidth).contains(width) else {
            throw SensorError(.invalidSetting, chip: "SSD1306 framebuffer", "width \(width) is out of range: 1...\(Self.maximumWidth) columns")
        }
        guard (8...Self.maximumHeight).contains(height), height % 8 == 0 else {
            throw SensorError(.invalidSetting, chip: "SSD1306 framebuffer",
                              "height \(height) is not allowed: a multiple of 8 (one GDDRAM page) in 8...\(Self.maximumHeight) rows")
        }
        self.width = width
        self.height = height
        bytes = [UInt8](repeating: 0, count: width * height / 8)
    }

    /// A blank image the size of `panel`.
    public init(panel: SSD1306.Panel) {
        width = panel.width
        height = panel.height
        bytes = [UInt8](repeating: 0, count: panel.width * panel.pages)
    }

    /// Pages of 8 rows.
    public var pages: Int { height / 8 }

    /// Whether (`x`, `y`) is inside the image.
    public func contains(x: Int, y: Int) -> Bool {
        x >= 0 && x < width && y >= 0 && y < height
    }

    /// Whether the pixel at column `x`, row `y` is on; `false` outside the image.
    public func pixel(x: Int, y: Int) -> Bool {
        guard contains(x: x, y: y) else { return false }
        return bytes[(y >> 3) * width + x] & (1 << UInt8(y & 7)) != 0
    }

    /// The byte that holds rows `page * 8 ..< page * 8 + 8` of column `column`, bit 0 on top.
    /// Returns 0 outside the image.
    public func byte(page: Int, column: Int) -> UInt8 {
        guard page >= 0, page < pages, column >= 0, column < width else { return 0 }
        return bytes[page * width + column]
    }

    /// Turns the pixel at column `x`, row `y` on (or off); does nothing outside the image.
    public mutating func setPixel(x: Int, y: Int, _ on: Bool = true) {
        guard contains(x: x, y: y) else { return }
        let index = (y >> 3) * width + x
        let mask = UInt8(1) << UInt8(y & 7)
        if on { bytes[index] |= mask } else { bytes[index] &= ~mask }
    }

    /// Turns every pixel off.
    public mutating func clear() { fill(false) }

    /// Turns every pixel on (or off).
    public mutating func fill(_ on: Bool = true) {
        let value: UInt8 = on ? 0xFF : 0x00
        for i in bytes.indices { bytes[i] = value }
    }

    /// The image as text, one line per row, `lit` for pixels that are on and `dark` for the others.
    public func asciiArt(lit: Character = "#", dark: Character = ".") -> String {
        (0..<height).map { y in
            String((0..<width).map { x in pixel(x: x, y: y) ? lit : dark })
        }.joined(separator: "\n")
    }
}

// MARK: - Changed regions

extension Framebuffer {
    /// A rectangle of GDDRAM: a range of columns on a range of pages, the window that Set Column
    /// Address (21h) and Set Page Address (22h) select (datasheet Sections 10.1.4 and 10.1.5).
    public struct Region: Sendable, Hashable, CustomStringConvertible {
        /// Columns, within 0...127.
        public let columns: ClosedRange<Int>
        /// Pages, within 0...7.
        public let pages: ClosedRange<Int>

        /// A region of GDDRAM.
        ///
        /// - Throws: `SensorError(.invalidSetting)` unless `columns` is within 0...127 and `pages`
        ///   within 0...7 (the GDDRAM the window commands can address).
        public init(columns: ClosedRange<Int>, pages: ClosedRange<Int>) throws(SensorError) {
            guard columns.lowerBound >= 0, columns.upperBound < Framebuffer.maximumWidth,
                  pages.lowerBound >= 0, pages.upperBound < Framebuffer.maximumHeight / 8 else {
                throw SensorError(.invalidSetting, chip: "SSD1306 framebuffer",
                                  "region columns \(columns), pages \(pages) is outside GDDRAM: columns 0...127, pages 0...7")
            }
            self.init(checkedColumns: columns, pages: pages)
        }

        /// For ranges already known to lie within GDDRAM.
        init(checkedColumns columns: ClosedRange<Int>, pages: ClosedRange<Int>) {
            self.columns = columns
            self.pages = pages
        }

        /// Bytes in the region: one per column per page.
        public var byteCount: Int { columns.count * pages.count }

        public var description: String {
            "columns \(columns.lowerBound)...\(columns.upperBound), pages \(pages.lowerBound)...\(pages.upperBound)"
        }
    }

    /// The whole image as a region.
    public var fullRegion: Region { Region(checkedColumns: 0...(width - 1), pages: 0...(pages - 1)) }

    /// The smallest region that holds every byte in which this image differs from `previous`, or
    /// `nil` when they are equal. Images of different sizes differ everywhere: the result is the
    /// whole of this image.
    public func changedRegion(from previous: Framebuffer) -> Region? {
        guard previous.width == width, previous.height == height else { return fullRegion }
        var firstColumn = width, lastColumn = -1, firstPage = pages, lastPage = -1
        for page in 0..<pages {
            for column in 0..<width where bytes[page * width + column] != previous.bytes[page * width + column] {
                firstColumn = min(firstColumn, column)
                lastColumn = max(lastColumn, column)
                firstPage = min(firstPage, page)
                lastPage = max(lastPage, page)
            }
        }
        guard lastColumn >= 0 else { return nil }
        return Region(checkedColumns: firstColumn...lastColumn, pages: firstPage...lastPage)
    }

    /// The bytes of `region` in the order the chip takes them in horizontal addressing mode
    /// (Section 10.1.3): the region's columns of its first page, then of the next page, and so on.
    /// Parts of the region outside the image read as 0.
    public func bytes(in region: Region) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(region.byteCount)
        for page in region.pages {
            for column in region.columns {
                result.append(byte(page: page, column: column))
            }
        }
        return result
    }
}
