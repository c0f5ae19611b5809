#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import CIoTLinux
import Synchronization

/// A uAPI v2 line request: one file descriptor for all of its lines.
final class CharacterDeviceLineHandle: GPIOLineHandle {
    let descriptor: OwnedDescriptor
    let chip: GPIOChipInfo
    let offsets: [UInt32]
    private let events = Mutex<EventSubscription?>(nil)
    private let clock: Mutex<EventClock>
    /// Sets a new config on the request in place of GPIO_V2_LINE_SET_CONFIG_IOCTL (a plugin
    /// host's runner, whose sandbox denies that ioctl); nil: the ioctl.
    let setConfig: (@Sendable (Int32, ciot_gpio_v2_line_config) throws(HardwareError) -> Void)?

    struct EventSubscription {
        var token: Int
        var continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation
    }

    init(descriptor: OwnedDescriptor, chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings],
         setConfig: (@Sendable (Int32, ciot_gpio_v2_line_config) throws(HardwareError) -> Void)? = nil) {
        self.setConfig = setConfig
        self.descriptor = descriptor
        self.chip = chip
        self.offsets = offsets
        self.clock = Mutex(settings.contains { $0.eventClock == .realtime && $0.edge != .none } ? .realtime : .monotonic)
    }

    @inline(__always)
    func getValues(mask: UInt64) throws(HardwareError) -> UInt64 {
        try descriptor.withDescriptor { (fd: Int32) throws(HardwareError) -> UInt64 in
            var bits: UInt64 = 0
            guard ciot_gpio_v2_line_get_values(fd, mask, &bits) == 0 else {
                throw HardwareError.fromErrno(ciot_errno(), "reading lines \(offsets)", path: chip.devicePath ?? chip.name)
            }
            return bits
        }
    }

    @inline(__always)
    func setValues(_ bits: UInt64, mask: UInt64) throws(HardwareError) {
        try descriptor.withDescriptor { (fd: Int32) throws(HardwareError) in
            guard ciot_gpio_v2_line_set_values(fd, bits, mask) == 0 else {
                let err = ciot_errno()
                if err == EPERM {
                    throw HardwareError(.invalidArgument, "lines \(offsets) of \(chip.name) are inputs: reconfigure them as outputs before setting them", errno: err, location: chip.name)
                }
                throw HardwareError.fromErrno(err, "setting lines \(offsets)", path: chip.devicePath ?? chip.name)
            }
        }
    }

    func reconfigure(_ settings: [LineSettings]) throws(HardwareError) {
        var config = try CharacterDeviceGPIO.makeConfig(settings, chip: chip)
        try descriptor.withDescriptor { (fd: Int32) throws(HardwareError) in
            if let setConfig { return try setConfig(fd, config) }
            guard ciot_gpio_v2_line_set_config(fd, &config) == 0 else {
                throw HardwareError.fromErrno(ciot_errno(), "reconfiguring lines \(offsets)", path: chip.devicePath ?? chip.name)
            }
        }
        clock.withLock { $0 = settings.contains { $0.eventClock == .realtime && $0.edge != .none } ? .realtime : .monotonic }
    }

    func makeEventStream(bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error> {
        guard let fd = descriptor.rawValue else {
            throw HardwareError(.closed, "the line request on \(chip.name) was already released", location: chip.name)
        }
        // The kernel has one event queue per request: a new stream replaces (and ends) the last.
        endEvents(finishing: true)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GPIOEdgeEvent.self, bufferingPolicy: .bufferingNewest(bufferSize))
        try events.withLock { (current: inout EventSubscription?) throws(HardwareError) in
            let reader = EventReader(descriptor: descriptor, clock: clock.withLock { $0 }, continuation: continuation)
            let token = try EventReactor.shared.register(fd: fd, events: Int16(POLLIN)) { revents in
                reader.readAvailable(revents)
            }
            current = EventSubscription(token: token, continuation: continuation)
        }
        continuation.onTermination = { [weak self] _ in
            self?.endEvents(finishing: false)
        }
        return stream
    }

    private func endEvents(finishing: Bool) {
        guard let subscription = events.withLock({ current -> EventSubscription? in
            defer { current = nil }
            return current
        }) else { return }
        EventReactor.shared.unregister(subscription.token)
        if finishing { subscription.continuation.finish() }
    }

    func release() {
        endEvents(finishing: true)
        descriptor.close()
    }

    deinit { release() }
}

/// Reads `struct gpio_v2_line_event`s on the reactor thread and hands them to the stream.
private final class EventReader: @unchecked Sendable {
    // Touched only on the reactor thread.
    private var buffer: [UInt8]
    private let eventSize = Int(ciot_gpio_v2_event_size())
    let descriptor: OwnedDescriptor
    let clock: EventClock
    let continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation

    init(descriptor: OwnedDescriptor, clock: EventClock, continuation: AsyncThrowingStream<GPIOEdgeEvent, any Error>.Continuation) {
        self.descriptor = descriptor
        self.clock = clock
        self.continuation = continuation
        self.buffer = [UInt8](repeating: 0, count: Int(ciot_gpio_v2_event_size()) * 16)
    }

    func readAvailable(_ revents: Int16) -> EventReactor.Action {
        if revents & Int16(POLLNVAL | POLLERR | POLLHUP) != 0 && revents & Int16(POLLIN) == 0 {
            continuation.finish()
            return .remove
        }
        let count: Int
        do {
            count = try descriptor.withDescriptor { (fd: Int32) throws(HardwareError) -> Int in
                buffer.withUnsafeMutableBytes { Syscall.read(fd, $0) }
            }
        } catch {
            continuation.finish()
            return .remove
        }
        if count < 0 {
            if errno == EAGAIN { return .keep }
            continuation.finish(throwing: HardwareError.fromErrno(errno, "reading edge events", path: descriptor.path))
            return .remove
        }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset + eventSize <= count {
                let e = raw.loadUnaligned(fromByteOffset: offset, as: ciot_gpio_v2_line_event.self)
                let kind: GPIOEdgeEvent.Kind = e.id == CIOT_GPIO_V2_LINE_EVENT_RISING_EDGE ? .rising : .falling
                continuation.yield(GPIOEdgeEvent(kind: kind, offset: e.offset, timestampNanoseconds: e.timestamp_ns,
                                                 clock: clock, sequence: e.seqno, lineSequence: e.line_seqno))
                offset += eventSize
            }
        }
        return .keep
    }
}
