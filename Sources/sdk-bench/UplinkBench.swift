#if canImport(Glibc)
import Glibc
#endif
import CIoTBench
import Foundation
import IoTSDK
import Logging
import PluginHost
import Synchronization
import TestSupport

// sdk-bench uplink: the SDK's uplink draining an outbox to a local mosquitto at QoS 1, against a
// C loop publishing the same payloads with libmosquitto and waiting for the same PUBACKs, with
// the same in-flight window, in the same run. The broker (Debian's mosquitto, started here on
// 127.0.0.1 without persistence, so that its disk writes do not set the pace) has no subscribers.
// The SDK's figure covers everything a device does per message: taking it from SQLite, the
// PUBLISH, the PUBACK, and deleting it from SQLite (acknowledgements are batched per wakeup).

func runUplinkBench(_ options: Options) async throws {
    guard MosquittoProcess.executable != nil else {
        throw BenchError("uplink needs mosquitto: run Scripts/ensure-mosquitto.sh (it installs Debian's package)")
    }
    let count = options.iterations
    let root = try makeBenchDirectory(under: "/var/tmp", name: "sdk-bench-uplink")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let broker = try MosquittoProcess(directory: root + "/broker", persistent: false)
    defer { broker.stop() }
    let payload = Array(#"{"series":"bme280/temperature","unit":"K","t":1796649000000000000,"v":294.65}"#.utf8)
    let window = MQTTConfiguration(broker: try MQTTBroker(url: broker.url), clientID: "bench").inflightWindow
    print("sdk-bench uplink: \(count) messages of \(payload.count) bytes per round at QoS 1, window \(window), to mosquitto on 127.0.0.1; median of \(options.rounds) rounds")

    var sdk: [Double] = []
    var c: [Double] = []
    for round in 0..<options.rounds {
        sdk.append(try await drainThroughUplink(count: count, payload: payload, broker: broker, database: root + "/outbox-\(round).sqlite"))
        var nanoseconds: UInt64 = 0
        let result = payload.withUnsafeBytes {
            ciot_bench_mqtt_publish("127.0.0.1", Int32(broker.port), "bench-c", "bench/c", $0.baseAddress, Int32($0.count), Int32(count), Int32(window), &nanoseconds)
        }
        guard result == 0 else { throw BenchError("the C loop failed (errno \(errno)): is libmosquitto1 installed?") }
        c.append(Double(nanoseconds) / Double(count))
    }
    report("uplink drain, outbox → broker at QoS 1", sdk: sdk, c: c)
    print("goal: ratio SDK/C >= 0.8: \(verdict(median(c) / median(sdk) >= 0.8))")

    // Where the SDK's time goes: the same outbox work without a broker (take half a window,
    // acknowledge it), per message.
    var storage: [Double] = []
    for round in 0..<options.rounds {
        storage.append(try await drainOutboxAlone(count: count, payload: payload, batch: max(window / 2, 1), database: root + "/alone-\(round).sqlite"))
    }
    print("of which the outbox alone (take \(max(window / 2, 1)), acknowledge them; no broker): \(Int(median(storage).rounded())) ns/message")

    try benchHostUplinkMemory(broker: broker, root: root)
}

/// The PSS of `plugin-host run` with 3 idle modules, without an uplink and then connected to
/// `broker` with one (`--mqtt-url`): what the host's broker connection and outbox cost.
func benchHostUplinkMemory(broker: MosquittoProcess, root: String) throws {
    guard let runnerPath = ChildProcessRunner.locate(), let (host, _) = hostBinaries(for: "the host's uplink memory") else { return }
    guard let state = try installIdleModules(root: root + "/host", runner: runnerPath) else { return }
    var pss: [Double] = []
    for arguments in [[], ["--mqtt-url", broker.url, "--device-id", "bench-device"]] {
        let process = try startIdleHost(host, state: state, arguments: arguments)
        if !arguments.isEmpty {
            let deadline = ContinuousClock.now + .seconds(10)
            while !broker.hasClient("bench-device") && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.1) }
            guard broker.hasClient("bench-device") else {
                kill(process.processIdentifier, SIGTERM); process.waitUntilExit()
                throw BenchError("plugin-host run --mqtt-url did not connect to \(broker.url)")
            }
            Thread.sleep(forTimeInterval: 1)
        }
        pss.append(treeMemory(process.processIdentifier).pss)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
    let added = (pss[1] - pss[0]) / 1024
    print("host with 3 idle modules: PSS \(format(pss[0] / 1024, "MB")) without an uplink, \(format(pss[1] / 1024, "MB")) connected to the broker: +\(format(added, "MB")) (goal <= +1.5 MB): \(verdict(added <= 1.5))")
}

/// Takes and acknowledges `count` messages in batches of `batch` without sending them;
/// nanoseconds per message.
func drainOutboxAlone(count: Int, payload: [UInt8], batch: Int, database path: String) async throws -> Double {
    let outbox = try await Outbox(database: try await Database(path: path))
    for _ in 0..<count { try await outbox.enqueue(topic: "bench/sdk", payload: payload) }
    let start = now()
    var left = count
    while left > 0 {
        let taken = try await outbox.take(batch: batch, lease: .seconds(60))
        try await outbox.acknowledge(taken)
        left -= taken.count
    }
    return Double(now() - start) / Double(count)
}

/// Enqueues `count` messages (not timed), then runs an uplink until all are acknowledged;
/// nanoseconds per message from the CONNACK to the last acknowledgement in the outbox.
func drainThroughUplink(count: Int, payload: [UInt8], broker: MosquittoProcess, database path: String) async throws -> Double {
    let database = try await Database(path: path)
    let outbox = try await Outbox(database: database)
    for _ in 0..<count { try await outbox.enqueue(topic: "bench/sdk", payload: payload) }
    let finished = Mutex<(delivered: Int, at: UInt64?)>((0, nil))
    let uplinkOptions = Uplink.Options(onDelivered: { messages in
        finished.withLock {
            $0.delivered += messages.count
            if $0.delivered >= count && $0.at == nil { $0.at = now() }
        }
    })
    var mqtt = MQTTConfiguration(broker: try MQTTBroker(url: broker.url), clientID: "bench-sdk")
    mqtt.sessionExpiry = nil
    let uplink = try Uplink(outbox: outbox, mqtt: mqtt, options: uplinkOptions, logger: Logger(label: "sdk-bench") { _ in SwiftLogNoOpLogHandler() })
    let running = Task { try await uplink.run() }
    while !uplink.isConnected { try await Task.sleep(for: .microseconds(200)) }
    let start = now()
    while finished.withLock({ $0.at }) == nil { try await Task.sleep(for: .milliseconds(1)) }
    running.cancel()
    _ = await running.result
    guard let end = finished.withLock({ $0.at }) else { throw BenchError("the uplink stopped before it delivered every message") }
    return Double(end - start) / Double(count)
}
