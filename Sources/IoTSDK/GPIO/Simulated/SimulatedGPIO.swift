import Synchronization

/// A GPIO chip on the simulated board.
public struct SimulatedChipSpec: Sendable, Hashable {
    public var label: String
    public var lineCount: Int
    /// Line names by offset; lines not named are unnamed.
    public var lineNames: [UInt32: String]

    public init(label: String, lineCount: Int, lineNames: [UInt32: String] = [:]) {
        self.label = label
        self.lineCount = lineCount
        self.lineNames = lineNames
    }

    /// A Raspberry Pi 4 header chip: `pinctrl-bcm2711` with lines GPIO0…GPIO57.
    public static let raspberryPi4 = SimulatedChipSpec(
        label: "pinctrl-bcm2711", lineCount: 58,
        lineNames: Dictionary(uniqueKeysWithValues: (0..<58).map { (UInt32($0), "GPIO\($0)") }))
}

/// GPIO chips that exist only in memory, behind the same API as the real ones. The "outside
/// world" is driven with `drive(_:offset:to:)` (a button, a sensor's alert pin) and observed with
/// `level(chip:offset:)` (an LED). Inputs follow what is driven from outside, else their bias;
/// edges produce events with sequence numbers like the kernel's.
public final class SimulatedGPIO: GPIOBackend {
    struct Line {
        var name: String?
        /// The level the outside world drives onto the pin; nil when it floats.
        var external: Bool?
        var request: Int?
        var consumer: String?
        var settings = LineSettings()
        /// The physical level an output drives.
        var driven = false
        var lineSequence: UInt32 = 0
    }

    struct Chip {
        var info: GPIOChipInfo
        var lines: [Line]
    }

    struct RequestState {
        var chip: Int
        var offsets: [UInt32]
        var continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation?
        var sequence: UInt32 = 0
    }

    struct State {
        var chips: [Chip]
        var requests: [Int: RequestState] = [:]
        var nextRequest = 1
    }

    private let state: Mutex<State>

    public init(chips specs: [SimulatedChipSpec] = [.raspberryPi4]) {
        let chips = specs.enumerated().map { index, spec in
            Chip(info: GPIOChipInfo(name: "gpiochip\(index)", label: spec.label, lineCount: spec.lineCount),
                 lines: (0..<spec.lineCount).map { Line(name: spec.lineNames[UInt32($0)]) })
        }
        state = Mutex(State(chips: chips))
    }

    public var kind: GPIOBackendKind { .simulated }

    public func chips() throws(HardwareError) -> [GPIOChipInfo] {
        state.withLock { $0.chips.map(\.info) }
    }

    public func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        try state.withLock { (s: inout State) throws(HardwareError) -> GPIOLineInfo in
            let c = try Self.chipIndex(chip.name, in: s)
            guard Int(offset) < s.chips[c].lines.count else {
                throw HardwareError(.notFound, "\(chip.name) [\(chip.label)] has no line \(offset): its lines are 0-\(chip.lineCount - 1)", location: chip.name)
            }
            let line = s.chips[c].lines[Int(offset)]
            var info = GPIOLineInfo(chip: chip.name, offset: offset, name: line.name)
            if line.request != nil {
                info.isUsed = true
                info.consumer = line.consumer
                info.direction = line.settings.direction
                info.bias = line.settings.bias
                info.drive = line.settings.drive
                info.activeLow = line.settings.activeLow
                info.edge = line.settings.edge
                info.debounce = line.settings.debounce
            }
            return info
        }
    }

    public func requestLines(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String) throws(HardwareError) -> any GPIOLineHandle {
        let id = try state.withLock { (s: inout State) throws(HardwareError) -> Int in
            let c = try Self.chipIndex(chip.name, in: s)
            for offset in offsets {
                let line = s.chips[c].lines[Int(offset)]
                if line.request != nil {
                    let name = line.name.map { " (\($0))" } ?? ""
                    throw HardwareError(.busy, "line \(offset)\(name) of \(chip.name) [\(chip.label)] is busy: held by consumer '\(line.consumer ?? "unknown")'", errno: 16, location: "\(chip.name):\(offset)")
                }
            }
            let id = s.nextRequest
            s.nextRequest += 1
            for (offset, lineSettings) in zip(offsets, settings) {
                s.chips[c].lines[Int(offset)].request = id
                s.chips[c].lines[Int(offset)].consumer = consumer
                Self.apply(lineSettings, to: &s.chips[c].lines[Int(offset)], initial: true)
            }
            s.requests[id] = RequestState(chip: c, offsets: offsets)
            return id
        }
        return SimulatedLineHandle(board: self, id: id)
    }

    static func chipIndex(_ name: String, in s: State) throws(HardwareError) -> Int {
        guard let index = s.chips.firstIndex(where: { $0.info.name == name }) else {
            throw HardwareError(.notFound, "the simulated board has no chip \(name)", location: name)
        }
        return index
    }

    static func apply(_ settings: LineSettings, to line: inout Line, initial: Bool) {
        let wasOutput = line.settings.direction == .output && !initial
        line.settings = settings
        if settings.direction == .output && !wasOutput {
            line.driven = settings.initialValue.isActive != settings.activeLow
        }
    }

    /// The physical level of a line: what an output drives, else what the outside drives, else
    /// its pull (a floating pin reads low).
    static func physicalLevel(_ line: Line) -> Bool {
        if line.request != nil && line.settings.direction == .output { return line.driven }
        if let external = line.external { return external }
        return line.settings.bias == .pullUp
    }

    // MARK: - The outside world

    /// Drives a pin from outside (a button pressed to ground is `false`), or lets it float (`nil`).
    /// Requested inputs with edge detection get an event for each change of their level.
    public func drive(chip label: String, offset: UInt32, to level: Bool?) throws(HardwareError) {
        let yields = try state.withLock { (s: inout State) throws(HardwareError) -> [(AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation, GPIOEdgeEvent)] in
            guard let c = s.chips.firstIndex(where: { $0.info.label == label }) else {
                throw HardwareError(.notFound, "the simulated board has no chip labelled '\(label)'", location: label)
            }
            guard Int(offset) < s.chips[c].lines.count else {
                throw HardwareError(.notFound, "chip '\(label)' has no line \(offset)", location: label)
            }
            let before = Self.physicalLevel(s.chips[c].lines[Int(offset)])
            s.chips[c].lines[Int(offset)].external = level
            let after = Self.physicalLevel(s.chips[c].lines[Int(offset)])
            return Self.edgeEvents(&s, chip: c, offset: offset, before: before, after: after)
        }
        for (continuation, event) in yields { continuation.yield(event) }
    }

    /// The physical level of a pin as the outside sees it (an LED on an output).
    public func level(chip label: String, offset: UInt32) throws(HardwareError) -> Bool {
        try state.withLock { (s: inout State) throws(HardwareError) -> Bool in
            guard let c = s.chips.firstIndex(where: { $0.info.label == label }), Int(offset) < s.chips[c].lines.count else {
                throw HardwareError(.notFound, "the simulated board has no line \(offset) on chip '\(label)'", location: label)
            }
            return Self.physicalLevel(s.chips[c].lines[Int(offset)])
        }
    }

    static func edgeEvents(_ s: inout State, chip c: Int, offset: UInt32, before: Bool, after: Bool)
        -> [(AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation, GPIOEdgeEvent)] {
        let line = s.chips[c].lines[Int(offset)]
        guard before != after, let id = line.request, line.settings.direction == .input,
              var request = s.requests[id], let continuation = request.continuation else { return [] }
        // Logical edges: an active-low line rises when it goes physically low.
        let rising = after != line.settings.activeLow
        guard rising ? line.settings.edge.includesRising : line.settings.edge.includesFalling else { return [] }
        request.sequence &+= 1
        s.requests[id] = request
        s.chips[c].lines[Int(offset)].lineSequence &+= 1
        let event = GPIOEdgeEvent(kind: rising ? .rising : .falling, offset: offset,
                                  timestampNanoseconds: MonotonicClock.nanoseconds(), clock: line.settings.eventClock,
                                  sequence: request.sequence, lineSequence: s.chips[c].lines[Int(offset)].lineSequence)
        return [(continuation, event)]
    }

    // MARK: - Handle operations

    func getValues(_ id: Int, mask: UInt64) throws(HardwareError) -> UInt64 {
        try state.withLock { (s: inout State) throws(HardwareError) -> UInt64 in
            let request = try Self.request(id, in: s)
            var bits: UInt64 = 0
            for (i, offset) in request.offsets.enumerated() where mask & (UInt64(1) << UInt64(i)) != 0 {
                let line = s.chips[request.chip].lines[Int(offset)]
                if Self.physicalLevel(line) != line.settings.activeLow { bits |= UInt64(1) << UInt64(i) }
            }
            return bits
        }
    }

    func setValues(_ id: Int, bits: UInt64, mask: UInt64) throws(HardwareError) {
        try state.withLock { (s: inout State) throws(HardwareError) in
            let request = try Self.request(id, in: s)
            for (i, offset) in request.offsets.enumerated() where mask & (UInt64(1) << UInt64(i)) != 0 {
                let settings = s.chips[request.chip].lines[Int(offset)].settings
                guard settings.direction == .output else {
                    throw HardwareError(.invalidArgument, "line \(offset) is an input: reconfigure it as an output before setting it", location: s.chips[request.chip].info.name)
                }
                s.chips[request.chip].lines[Int(offset)].driven = (bits & (UInt64(1) << UInt64(i)) != 0) != settings.activeLow
            }
        }
    }

    func reconfigure(_ id: Int, _ settings: [LineSettings]) throws(HardwareError) {
        let yields = try state.withLock { (s: inout State) throws(HardwareError) -> [(AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation, GPIOEdgeEvent)] in
            let request = try Self.request(id, in: s)
            var yields: [(AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation, GPIOEdgeEvent)] = []
            for (offset, lineSettings) in zip(request.offsets, settings) {
                let before = Self.physicalLevel(s.chips[request.chip].lines[Int(offset)])
                Self.apply(lineSettings, to: &s.chips[request.chip].lines[Int(offset)], initial: false)
                let after = Self.physicalLevel(s.chips[request.chip].lines[Int(offset)])
                yields += Self.edgeEvents(&s, chip: request.chip, offset: offset, before: before, after: after)
            }
            return yields
        }
        for (continuation, event) in yields { continuation.yield(event) }
    }

    func makeEventStream(_ id: Int, bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GPIOEdgeEvent.self, bufferingPolicy: .bufferingNewest(bufferSize))
        // A new stream replaces (and ends) the last one; the last one's termination handler
        // runs before the new continuation is installed, so it cannot clear it.
        let previous = try state.withLock { (s: inout State) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation? in
            _ = try Self.request(id, in: s)
            defer { s.requests[id]?.continuation = nil }
            return s.requests[id]?.continuation
        }
        previous?.finish()
        try state.withLock { (s: inout State) throws(HardwareError) in
            _ = try Self.request(id, in: s)
            s.requests[id]?.continuation = continuation
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { s in s.requests[id]?.continuation = nil }
        }
        return stream
    }

    func release(_ id: Int) {
        let continuation = state.withLock { s -> AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation? in
            guard let request = s.requests.removeValue(forKey: id) else { return nil }
            for offset in request.offsets {
                s.chips[request.chip].lines[Int(offset)].request = nil
                s.chips[request.chip].lines[Int(offset)].consumer = nil
            }
            return request.continuation
        }
        continuation?.finish()
    }

    static func request(_ id: Int, in s: State) throws(HardwareError) -> RequestState {
        guard let request = s.requests[id] else {
            throw HardwareError(.closed, "this line request was already released")
        }
        return request
    }
}

/// The simulated board's side of a line request.
final class SimulatedLineHandle: GPIOLineHandle {
    let board: SimulatedGPIO
    let id: Int

    init(board: SimulatedGPIO, id: Int) {
        self.board = board
        self.id = id
    }

    func getValues(mask: UInt64) throws(HardwareError) -> UInt64 { try board.getValues(id, mask: mask) }
    func setValues(_ bits: UInt64, mask: UInt64) throws(HardwareError) { try board.setValues(id, bits: bits, mask: mask) }
    func reconfigure(_ settings: [LineSettings]) throws(HardwareError) { try board.reconfigure(id, settings) }
    func makeEventStream(bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error> {
        try board.makeEventStream(id, bufferSize: bufferSize)
    }
    func release() { board.release(id) }
    deinit { release() }
}

extension GPIO {
    /// GPIO on the built-in simulated board (by default a Raspberry Pi 4 header chip, so that
    /// `.bcm(n)` works as on a Pi).
    public static func simulated(_ board: SimulatedGPIO = SimulatedGPIO()) -> GPIO {
        GPIO(backend: board)
    }
}
