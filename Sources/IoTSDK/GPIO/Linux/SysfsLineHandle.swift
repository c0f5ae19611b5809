#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import Synchronization

/// One exported line with its `value` file, kept open for the life of the request: reopening it
/// for each write is what makes naive sysfs code 30-60x slower than the kernel allows.
final class SysfsLine: Sendable {
    let export: SysfsExport
    let value: OwnedDescriptor

    init(export: SysfsExport, value: OwnedDescriptor) {
        self.export = export
        self.value = value
    }

    private static let one: UInt8 = 0x31
    private static let zero: UInt8 = 0x30

    @inline(__always)
    func write(_ active: Bool) throws(HardwareError) {
        try value.withDescriptor { (fd: Int32) throws(HardwareError) in
            var byte = active ? Self.one : Self.zero
            let n = withUnsafeBytes(of: &byte) { Syscall.pwrite(fd, $0, offset: 0) }
            if n < 0 {
                let err = errno
                if err == EPERM {
                    throw HardwareError(.invalidArgument, "GPIO \(export.number) is an input: reconfigure it as an output before setting it", errno: err, location: export.directory)
                }
                throw HardwareError.fromErrno(err, "writing GPIO \(export.number)", path: export.directory + "/value")
            }
        }
    }

    @inline(__always)
    func read() throws(HardwareError) -> Bool {
        try value.withDescriptor { (fd: Int32) throws(HardwareError) -> Bool in
            var bytes: (UInt8, UInt8) = (0, 0)
            let n = withUnsafeMutableBytes(of: &bytes) { Syscall.pread(fd, $0, offset: 0) }
            if n < 1 {
                throw HardwareError.fromErrno(errno, "reading GPIO \(export.number)", path: export.directory + "/value")
            }
            return bytes.0 == Self.one
        }
    }

    func release() {
        value.close()
        export.unexport()
    }
}

/// A request over sysfs: one exported line per requested line.
final class SysfsLineHandle: GPIOLineHandle {
    let lines: [SysfsLine]
    let chip: GPIOChipInfo
    private let settings: Mutex<[LineSettings]>
    private let subscription = Mutex<(tokens: [Int], continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation)?>(nil)
    private let released = Atomic<Bool>(false)

    init(lines: [SysfsLine], chip: GPIOChipInfo, settings: [LineSettings]) {
        self.lines = lines
        self.chip = chip
        self.settings = Mutex(settings)
    }

    func getValues(mask: UInt64) throws(HardwareError) -> UInt64 {
        var bits: UInt64 = 0
        for (i, line) in lines.enumerated() where mask & (UInt64(1) << UInt64(i)) != 0 {
            if try line.read() { bits |= UInt64(1) << UInt64(i) }
        }
        return bits
    }

    @inline(__always)
    func setValues(_ bits: UInt64, mask: UInt64) throws(HardwareError) {
        if mask == 1 {
            try lines[0].write(bits & 1 != 0)
            return
        }
        for (i, line) in lines.enumerated() where mask & (UInt64(1) << UInt64(i)) != 0 {
            try line.write(bits & (UInt64(1) << UInt64(i)) != 0)
        }
    }

    func reconfigure(_ newSettings: [LineSettings]) throws(HardwareError) {
        for (line, s) in zip(lines, newSettings) {
            try SysfsGPIO.checkSupported(s, line: "GPIO \(line.export.number)")
        }
        for (line, s) in zip(lines, newSettings) {
            try line.export.configure(s, initial: false)
        }
        settings.withLock { $0 = newSettings }
    }

    func makeEventStream(bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error> {
        let current = settings.withLock { $0 }
        // A new stream replaces (and ends) the last one.
        endEvents(finishing: true)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GPIOEdgeEvent.self, bufferingPolicy: .bufferingNewest(bufferSize))
        let sequence = SequenceCounter()
        try subscription.withLock { (sub: inout (tokens: [Int], continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation)?) throws(HardwareError) in
            var tokens: [Int] = []
            for (line, s) in zip(lines, current) where s.direction == .input && s.edge != .none {
                // Read once so that the next change is what wakes poll(2).
                _ = try line.read()
                guard let fd = line.value.rawValue else { continue }
                let watcher = SysfsEdgeWatcher(line: line, edge: s.edge, sequence: sequence, continuation: continuation)
                do throws(HardwareError) {
                    tokens.append(try EventReactor.shared.register(fd: fd, events: Int16(POLLPRI | POLLERR)) { revents in
                        watcher.changed(revents)
                    })
                } catch {
                    tokens.forEach { EventReactor.shared.unregister($0) }
                    throw error
                }
            }
            sub = (tokens, continuation)
        }
        continuation.onTermination = { [weak self] _ in self?.endEvents(finishing: false) }
        return stream
    }

    private func endEvents(finishing: Bool) {
        guard let sub = subscription.withLock({ current -> (tokens: [Int], continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation)? in
            defer { current = nil }
            return current
        }) else { return }
        sub.tokens.forEach { EventReactor.shared.unregister($0) }
        if finishing { sub.continuation.finish() }
    }

    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        endEvents(finishing: true)
        lines.forEach { $0.release() }
    }

    deinit { release() }
}

/// Numbers the events of one request, across its lines.
final class SequenceCounter: Sendable {
    private let request = Atomic<UInt32>(0)

    func next() -> UInt32 { request.add(1, ordering: .relaxed).newValue }
}

/// Turns the wake-ups of one sysfs `value` file into edge events (on the reactor thread).
private final class SysfsEdgeWatcher: @unchecked Sendable {
    let line: SysfsLine
    let edge: LineEdge
    let sequence: SequenceCounter
    let continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation
    // Touched only on the reactor thread.
    private var lineSequence: UInt32 = 0

    init(line: SysfsLine, edge: LineEdge, sequence: SequenceCounter, continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation) {
        self.line = line
        self.edge = edge
        self.sequence = sequence
        self.continuation = continuation
    }

    func changed(_ revents: Int16) -> EventReactor.Action {
        let now = MonotonicClock.nanoseconds()
        let level: Bool
        do {
            level = try line.read()
        } catch {
            continuation.finish()
            return .remove
        }
        // sysfs wakes only on the configured edges; with both, the new level tells which.
        let kind: GPIOEdgeEvent.Kind
        switch edge {
        case .rising: kind = .rising
        case .falling: kind = .falling
        default: kind = level ? .rising : .falling
        }
        lineSequence &+= 1
        continuation.yield(GPIOEdgeEvent(kind: kind, offset: line.export.offset, timestampNanoseconds: now, clock: .monotonic,
                                         sequence: sequence.next(), lineSequence: lineSequence))
        return .keep
    }
}

/// CLOCK_MONOTONIC in nanoseconds, the clock the kernel stamps GPIO events with by default.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
