import Foundation
import IoTSDK
import Logging
import TestSupport
import Testing

/// Whether the uplink tests must run (Scripts/test.sh sets it once ensure-mosquitto.sh installed
/// the broker); otherwise they are skipped where mosquitto is missing.
let mosquittoRequired = ProcessInfo.processInfo.environment["IOTSDK_REQUIRE_MOSQUITTO"] == "1"
let mosquittoAvailable = MosquittoProcess.executable != nil && Tool.onPath("mosquitto_sub") != nil

/// A broker, an outbox in a temporary directory and the uplinks the test runs on it.
final class UplinkFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let broker: MosquittoProcess
    let database: Database
    let outbox: Outbox
    private var tasks: [Task<Void, any Error>] = []

    init(_ label: String, security: MosquittoProcess.Security = .init(), brokerUp: Bool = true) async throws {
        directory = try TemporaryDirectory(label)
        broker = try MosquittoProcess(directory: directory.path("broker"), security: security, start: brokerUp)
        database = try await Database(path: directory.path("device.sqlite"))
        outbox = try await Outbox(database: database)
    }

    deinit {
        for task in tasks { task.cancel() }
        broker.stop()
        directory.cleanUp()
    }

    /// The broker's URL as a configuration with fast reconnects, for client `clientID`.
    func mqtt(_ clientID: String) throws -> MQTTConfiguration {
        var mqtt = MQTTConfiguration(broker: try MQTTBroker(url: broker.url), clientID: clientID)
        mqtt.reconnect = .init(initial: .milliseconds(100), maximum: .seconds(1))
        return mqtt
    }

    /// Starts `uplink.run()` in a task; `stop` cancels it and waits.
    func start(_ uplink: Uplink) -> Task<Void, any Error> {
        let task = Task { try await uplink.run() }
        tasks.append(task)
        return task
    }

    /// Enqueues `count` messages numbered from `first` on `topic`, payload "n".
    func enqueue(_ count: Int, from first: Int = 0, topic: String) async throws {
        for number in first..<(first + count) {
            try await outbox.enqueue(topic: topic, payload: Array(String(number).utf8))
        }
    }
}

/// The payloads on stdout of a `mosquitto_sub -v` (lines "topic payload"), for `topic`.
func payloads(_ subscriber: RunningTool, topic: String) -> [String] {
    subscriber.stdout.split(separator: "\n").compactMap { line in
        let parts = line.split(separator: " ", maxSplits: 1)
        return parts.count == 2 && parts[0] == topic ? String(parts[1]) : nil
    }
}

/// Waits (without blocking a thread) until `condition` holds or `seconds` pass.
func eventually(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// Compares what arrived with `0..<count`: every number must be there; returns how many arrived
/// more than once, and prints it.
func expectAllArrived(_ received: [String], count: Int, label: String) -> Int {
    var seen: [Int: Int] = [:]
    for payload in received { seen[Int(payload) ?? -1, default: 0] += 1 }
    let missing = (0..<count).filter { seen[$0] == nil }
    let duplicates = seen.values.reduce(0) { $0 + max(0, $1 - 1) }
    print("\(label): \(count) messages, \(received.count) received, \(missing.count) missing, \(duplicates) duplicates")
    #expect(missing.isEmpty, "\(label): missing \(missing.prefix(20))…")
    #expect(seen[-1] == nil, "\(label): a payload that is no number arrived")
    return duplicates
}

let testLogger = Logger(label: "uplink-tests")

extension OutboxStatistics {
    /// Messages still in the outbox, leased or not.
    var stored: Int { pending + leased }
}
