import CIoTModule
import Glibc
import LinuxSupport

/// The MQTT messages the host delivered (`Message.mqttMessage`) until the module takes them with
/// `mqtt_receive`. The reader thread adds, any of the module's threads waits (a
/// `MonotonicCondition`: the waits block, for as long as the module asks). Bounded: past `capacity` messages or `capacityBytes` the oldest are dropped and counted.
final class MQTTInbox: @unchecked Sendable {
    struct Delivery {
        var topic: String
        var payload: [UInt8]
        var retain: Bool
    }

    enum Outcome {
        case message(Delivery)
        case timedOut
        case stopping
        case lost
    }

    /// Messages kept while the module takes none: at most this many...
    static let capacity = 1024
    /// ...and at most this many bytes of topics and payloads (the newest is kept whatever its size).
    static let capacityBytes = 1 << 20

    private let condition = MonotonicCondition()
    // Guarded by `condition`. At most `capacity` entries: removing the first is cheap enough.
    private var queue: [Delivery] = []
    private var bytes = 0
    private var stopping = false
    private var lost = false
    /// Called (on the reader thread) after each delivery is added: a wasm module's scheduler,
    /// whose thread waits for messages with its commands. Set before the host link reads.
    var onAdd: (@Sendable () -> Void)?

    private static func size(_ delivery: Delivery) -> Int { delivery.topic.utf8.count + delivery.payload.count }

    /// Adds a delivery; returns how many older ones had to be dropped for it.
    func add(_ delivery: Delivery) -> Int {
        defer { onAdd?() }
        return condition.locked {
            queue.append(delivery)
            bytes += Self.size(delivery)
            var dropped = 0
            while queue.count > 1, queue.count > Self.capacity || bytes > Self.capacityBytes {
                bytes -= Self.size(queue.removeFirst())
                dropped += 1
            }
            condition.broadcast()
            return dropped
        }
    }

    /// Wakes every waiter: the module is to stop (`stopping`) or the host is gone (`lost`).
    func wake(stopping: Bool = false, lost: Bool = false) {
        condition.locked {
            self.stopping = self.stopping || stopping
            self.lost = self.lost || lost
            condition.broadcast()
        }
    }

    /// The next delivery, waiting at most `milliseconds` (< 0: without limit). Queued messages
    /// come first; then a stop or a lost connection ends the wait.
    func take(waiting milliseconds: Int32) -> Outcome {
        let deadline = milliseconds < 0 ? nil : ContinuousClock.now + .milliseconds(milliseconds)
        return condition.locked {
            while true {
                if !queue.isEmpty {
                    let delivery = queue.removeFirst()
                    bytes -= Self.size(delivery)
                    return .message(delivery)
                }
                if stopping { return .stopping }
                if lost { return .lost }
                if !condition.wait(until: deadline) { return .timedOut }
            }
        }
    }
}

/// What mqtt_receive returns when `outcome` is not a message (-ETIMEDOUT, -ECANCELED, -EIO),
/// with the thread's last error saying why; native and wasm modules alike.
func noMessage(_ outcome: MQTTInbox.Outcome, timeout: Int32) -> Int32 {
    switch outcome {
    case .timedOut:
        setLastError("mqtt_receive: no message within \(timeout) ms")
        return -ETIMEDOUT
    case .stopping:
        setLastError("mqtt_receive: the host asked the module to stop")
        return -ECANCELED
    case .lost, .message:
        setLastError("mqtt_receive: the connection to the host is gone")
        return -EIO
    }
}

/// `delivery` as one malloc'ed `iotsdk_mqtt_message`: the struct, then the topic and its NUL,
/// then the payload; `free` releases it all (`mqtt_message_free`). nil if out of memory.
func allocateMessage(_ delivery: MQTTInbox.Delivery) -> UnsafeMutablePointer<iotsdk_mqtt_message>? {
    let header = MemoryLayout<iotsdk_mqtt_message>.stride
    let topic = Array(delivery.topic.utf8) + [0]
    guard let block = malloc(header + topic.count + max(delivery.payload.count, 1)) else { return nil }
    let topicStart = block + header
    let payloadStart = topicStart + topic.count
    topic.withUnsafeBytes { topicStart.copyMemory(from: $0.baseAddress!, byteCount: topic.count) }
    delivery.payload.withUnsafeBytes { if let base = $0.baseAddress { payloadStart.copyMemory(from: base, byteCount: $0.count) } }
    let message = block.bindMemory(to: iotsdk_mqtt_message.self, capacity: 1)
    message.initialize(to: iotsdk_mqtt_message(
        topic: UnsafePointer(topicStart.assumingMemoryBound(to: CChar.self)),
        payload: UnsafePointer(payloadStart.assumingMemoryBound(to: UInt8.self)),
        payload_length: UInt32(delivery.payload.count), retain: delivery.retain ? 1 : 0))
    return message
}
