import Glibc
import ModuleProtocol
import ModuleWasm
import WasmKit

extension WasmImportContext {
    /// The MQTT imports (WasmABI.imports: mqtt_*): the host table's calls, with topics, filters
    /// and payloads read from the module's memory. A message is received in two steps, since the
    /// runner cannot allocate in the module's memory while the module is in a call:
    /// `mqtt_receive` waits for one (running commands meanwhile, as a sleep does) and gives its
    /// sizes, then `mqtt_take` copies it into the buffers the module allocated.
    func mqttCalls(store: Store) -> [String: Function] {
        var calls: [String: Function] = [:]
        func define(_ name: String, _ body: @escaping ([Value]) throws -> Int32) {
            calls[name] = hostFunction(name, store: store) { arguments in [WASIErrno.result(try body(arguments))] }
        }
        define("mqtt_publish") { [self] arguments in
            let topic = try text(at: arguments[0].i32, length: arguments[1].i32, "mqtt_publish", what: "the topic")
            let (payload, length) = (arguments[2].i32, arguments[3].i32)
            guard Int(length) <= Message.maxMQTTPayloadBytes else {
                setLastError("mqtt_publish: a payload of \(length) bytes; the host takes at most \(Message.maxMQTTPayloadBytes) in one message")
                return -EMSGSIZE
            }
            let module = try instance("mqtt_publish")
            guard module.contains(payload, count: length) else {
                setLastError("mqtt_publish: the payload (\(length) bytes at 0x\(String(payload, radix: 16))) is not inside the module's memory")
                return -EFAULT
            }
            return try module.withBytes(at: payload, count: length, for: "mqtt_publish") { bytes in
                table.pointee.mqtt_publish(table, topic, UnsafeRawPointer(bytes.baseAddress), length,
                                           Int32(bitPattern: arguments[4].i32), Int32(bitPattern: arguments[5].i32), arguments[6].i32)
            }
        }
        define("mqtt_subscribe") { [self] arguments in
            table.pointee.mqtt_subscribe(table, try text(at: arguments[0].i32, length: arguments[1].i32, "mqtt_subscribe", what: "the filter"))
        }
        define("mqtt_unsubscribe") { [self] arguments in
            table.pointee.mqtt_unsubscribe(table, try text(at: arguments[0].i32, length: arguments[1].i32, "mqtt_unsubscribe", what: "the filter"))
        }
        define("mqtt_receive") { [self] arguments in
            let module = try instance("mqtt_receive")
            let (timeout, sizes) = (Int32(bitPattern: arguments[0].i32), arguments[1].i32)
            guard module.contains(sizes, count: 8) else {
                setLastError("mqtt_receive: the sizes at 0x\(String(sizes, radix: 16)) are not inside the module's memory")
                return -EFAULT
            }
            guard let link = connectedLink("mqtt_receive") else { return -EIO }
            heldMessage = nil
            let deadline = timeout < 0 ? nil : nanoseconds(of: CLOCK_MONOTONIC) + UInt64(timeout) * 1_000_000
            defer { module.refuel() }
            while true {
                switch link.inbox.take(waiting: 0) {
                case let .message(delivery):
                    heldMessage = delivery
                    try module.withBytes(at: sizes, count: 8, for: "mqtt_receive") { raw in
                        raw.storeBytes(of: UInt32(delivery.topic.utf8.count).littleEndian, as: UInt32.self)
                        raw.storeBytes(of: UInt32(delivery.payload.count).littleEndian, toByteOffset: 4, as: UInt32.self)
                    }
                    setLastError("")
                    return 0
                case .timedOut:
                    // Nothing queued: wait for the inbox's poke, serving commands.
                    switch timeout == 0 ? .timedOut : scheduler.waitForPoke(untilMonotonic: deadline) {
                    case .ready: continue
                    case .timedOut: return noMessage(.timedOut, timeout: timeout)
                    case .stopping: return noMessage(.stopping, timeout: timeout)
                    }
                case let ending:
                    return noMessage(ending, timeout: timeout)
                }
            }
        }
        define("mqtt_take") { [self] arguments in
            guard let message = heldMessage else {
                setLastError("mqtt_take: no message is held: call mqtt_receive first")
                return -ENOENT
            }
            let module = try instance("mqtt_take")
            let topic = Array(message.topic.utf8)
            guard module.contains(arguments[0].i32, count: UInt32(topic.count)), module.contains(arguments[1].i32, count: UInt32(message.payload.count)) else {
                setLastError("mqtt_take: the buffers for the topic (\(topic.count) bytes) and the payload (\(message.payload.count) bytes) are not inside the module's memory")
                return -EFAULT
            }
            try module.withBytes(at: arguments[0].i32, count: UInt32(topic.count), for: "mqtt_take") { $0.copyBytes(from: topic) }
            try module.withBytes(at: arguments[1].i32, count: UInt32(message.payload.count), for: "mqtt_take") { $0.copyBytes(from: message.payload) }
            heldMessage = nil
            setLastError("")
            return message.retain ? 1 : 0
        }
        return calls
    }
}
