import Synchronization

/// Lines held by this process: read them, drive them, reconfigure them, wait for their edges.
/// The lines go back to the kernel on `release()` or when the last reference goes away.
public final class GPIOLineRequest: Sendable {
    public let chip: GPIOChipInfo
    /// The requested lines' offsets, in request order.
    public let offsets: [UInt32]
    @usableFromInline let handle: any GPIOLineHandle
    private let currentSettings: Mutex<[LineSettings]>
    private let fullMask: UInt64

    init(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], handle: any GPIOLineHandle) {
        self.chip = chip
        self.offsets = offsets
        self.handle = handle
        self.currentSettings = Mutex(settings)
        self.fullMask = offsets.count == 64 ? ~0 : (UInt64(1) << UInt64(offsets.count)) - 1
    }

    deinit { handle.release() }

    /// The settings currently applied, in request order.
    public var settings: [LineSettings] { currentSettings.withLock { $0 } }

    // MARK: - Values

    /// Drives the request's only line. Uses one set-values ioctl on the character device, one
    /// write(2) to the kept-open `value` file on sysfs.
    /// - Throws: `.invalidArgument` when the request holds several lines (use `set(_:offset:)`).
    @inlinable
    public func set(_ value: LineValue) throws(HardwareError) {
        guard offsets.count == 1 else { throw multiLine("set(_:)") }
        try handle.setValues(value.isActive ? 1 : 0, mask: 1)
    }

    /// Drives one line of the request.
    public func set(_ value: LineValue, offset: UInt32) throws(HardwareError) {
        let bit = try index(of: offset)
        try handle.setValues(value.isActive ? bit : 0, mask: bit)
    }

    /// Drives several lines of the request at once (one kernel call on the character device).
    public func set(_ values: [UInt32: LineValue]) throws(HardwareError) {
        var bits: UInt64 = 0
        var mask: UInt64 = 0
        for (offset, value) in values {
            let bit = try index(of: offset)
            mask |= bit
            if value.isActive { bits |= bit }
        }
        guard mask != 0 else { return }
        try handle.setValues(bits, mask: mask)
    }

    /// Reads the request's only line.
    @inlinable
    public func get() throws(HardwareError) -> LineValue {
        guard offsets.count == 1 else { throw multiLine("get()") }
        return LineValue(try handle.getValues(mask: 1) & 1 != 0)
    }

    /// Reads one line of the request.
    public func get(offset: UInt32) throws(HardwareError) -> LineValue {
        let bit = try index(of: offset)
        return LineValue(try handle.getValues(mask: bit) & bit != 0)
    }

    /// Reads every line of the request at once.
    public func values() throws(HardwareError) -> [UInt32: LineValue] {
        let bits = try handle.getValues(mask: fullMask)
        var result: [UInt32: LineValue] = [:]
        for (i, offset) in offsets.enumerated() {
            result[offset] = LineValue(bits & (UInt64(1) << UInt64(i)) != 0)
        }
        return result
    }

    // MARK: - Configuration

    /// Applies `settings` to every line of the request without releasing them (turn an output into
    /// an input, change the pull, enable edges…).
    public func reconfigure(_ settings: LineSettings) throws(HardwareError) {
        try reconfigure(Dictionary(uniqueKeysWithValues: offsets.map { ($0, settings) }))
    }

    /// Applies new settings per line; lines not named keep theirs.
    public func reconfigure(_ changes: [UInt32: LineSettings]) throws(HardwareError) {
        var next = settings
        for (offset, lineSettings) in changes {
            let bit = try index(of: offset)
            try lineSettings.validate(line: "\(chip.name) line \(offset)")
            next[bit.trailingZeroBitCount] = lineSettings
        }
        try handle.reconfigure(next)
        currentSettings.withLock { $0 = next }
    }

    // MARK: - Events

    /// The edge events of the request's input lines, as the kernel reports them.
    ///
    /// Waiting does not block a thread of the cooperative pool. Each event carries the kernel's
    /// sequence numbers, so a gap shows that events were lost (see `GPIOEdgeEvent.eventsMissed`).
    /// The kernel keeps one event queue per request, so there is one reader: calling `events()`
    /// again ends the previous stream (its loop finishes) and the new one reads from then on, which
    /// makes `break`-ing out of a loop and looping again later work as expected.
    /// - Parameter bufferSize: how many events may wait unread before the oldest are dropped.
    /// - Throws: `.invalidArgument` when no line has edge detection; `.closed` after `release()`.
    public func events(bufferSize: Int = 1024) throws(HardwareError) -> GPIOEdgeEvents {
        guard settings.contains(where: { $0.direction == .input && $0.edge != .none }) else {
            throw HardwareError(.invalidArgument, "no line of this request has edge detection: request it with .input(edge: .rising/.falling/.both)", location: chip.name)
        }
        return GPIOEdgeEvents(stream: try handle.makeEventStream(bufferSize: max(1, bufferSize)))
    }

    /// Gives the lines back to the kernel and ends the event stream. Safe to call twice.
    public func release() {
        handle.release()
    }

    // MARK: - Helpers

    @inline(__always)
    private func index(of offset: UInt32) throws(HardwareError) -> UInt64 {
        guard let i = offsets.firstIndex(of: offset) else {
            throw HardwareError(.invalidArgument, "line \(offset) is not part of this request (it holds \(offsets))", location: chip.name)
        }
        return UInt64(1) << UInt64(i)
    }

    @usableFromInline
    func multiLine(_ call: String) -> HardwareError {
        HardwareError(.invalidArgument, "\(call) works on a one-line request; this one holds lines \(offsets): pass the offset", location: chip.name)
    }
}

/// Edge events as an `AsyncSequence`; ends when the request is released.
public struct GPIOEdgeEvents: AsyncSequence, Sendable {
    public typealias Element = GPIOEdgeEvent
    let stream: AsyncThrowingStream<GPIOEdgeEvent, any Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<GPIOEdgeEvent, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }
}
