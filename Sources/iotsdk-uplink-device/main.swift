// The device of the uplink's crash test: drains the outbox in DATABASE to BROKER-URL as CLIENT-ID
// until killed (SIGKILL, by the test) or stopped (SIGTERM, gracefully). Prints "connected" when
// the broker accepted it and "published N" when the count changed.
import IoTSDK
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    say("usage: iotsdk-uplink-device DATABASE BROKER-URL CLIENT-ID", to: 2)
    exit(2)
}

/// One unbuffered write(2) per line, so that the test reads each line as it happens.
func say(_ line: String, to fd: Int32 = 1) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}
let logger = Logger(label: "iotsdk-uplink-device")
do {
    let database = try await Database(path: arguments[1])
    let outbox = try await Outbox(database: database)
    var mqtt = MQTTConfiguration(broker: try MQTTBroker(url: arguments[2]), clientID: arguments[3])
    mqtt.reconnect = .init(initial: .milliseconds(100), maximum: .seconds(1))
    let uplink = try Uplink(outbox: outbox, mqtt: mqtt, logger: logger)
    let reporter = Task {
        var last = -1
        var wasConnected = false
        while !Task.isCancelled {
            if uplink.isConnected && !wasConnected { say("connected") }
            wasConnected = uplink.isConnected
            let published = uplink.statistics.published
            if published != last { say("published \(published)"); last = published }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
    let group = ServiceGroup(configuration: .init(services: [.init(service: uplink)], gracefulShutdownSignals: [.sigterm], logger: logger))
    try await group.run()
    reporter.cancel()
    say("stopped, published \(uplink.statistics.published)")
} catch {
    say("error: \(error)")
    exit(1)
}
