import Foundation
import IoTSDK
import PluginHost
#if canImport(Glibc)
import Glibc
#endif

/// A Raspberry Pi has no real-time clock: it boots at 1970 or at a stale saved time, and NTP later
/// moves the wall clock by hours or years. Here the guest's clock jumps a year forward and back
/// under a running host and during an install's health check: nothing may time out, restart or
/// roll back because of it.
let clockLabTests: [LabTest] = [
    LabTest(name: "host.clock-jumps-a-year-forward-and-back-under-a-running-host-and-during-an-install") {
        try clockJumps()
    },
]

/// Moves CLOCK_REALTIME and puts it back where it would be without the jumps.
struct WallClock {
    private let startWall: timespec
    private let startMonotonic: ContinuousClock.Instant

    init() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        startWall = now
        startMonotonic = .now
    }

    /// When the clock was found, on the monotonic clock.
    var started: ContinuousClock.Instant { startMonotonic }

    func jump(by seconds: Int) throws {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        now.tv_sec += seconds
        try expect(clock_settime(CLOCK_REALTIME, &now) == 0, "clock_settime: errno \(errno)")
    }

    func restore() {
        let elapsed = (ContinuousClock.now - startMonotonic).components
        var now = startWall
        now.tv_sec += Int(elapsed.seconds)
        _ = clock_settime(CLOCK_REALTIME, &now)
    }
}

func clockJumps() throws {
    let runnerPath = "/lab/plugin-host-runner", libraryPath = "/lab/libExampleModuleSwift.so"
    for path in [runnerPath, libraryPath] where !FileManager.default.fileExists(atPath: path) {
        throw LabFailure(description: "\(path) is missing: run the lab through Scripts/test.sh, which builds it and passes it in LAB_EXTRA_FILES")
    }
    let chips = try LabChips(try GPIO.linux(.characterDevice))
    let bus = try environment("IOTLAB_I2C_BUS")
    let root = "/tmp/clock-lab"
    try? FileManager.default.removeItem(atPath: root)
    let state = root + "/state"
    let key = ModuleSigningKey()
    try TrustStore(stateDirectory: state).add(key.publicKey)
    let id = "com.example.thermostat-swift"
    func image(_ version: String, stabilityWindowSeconds: Double) throws -> String {
        let directory = "\(root)/module-\(version)"
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: libraryPath, toPath: directory + "/lib/libExampleModuleSwift.so")
        let manifest = try exampleSwiftManifest(chip: chips.pi.name, bus: bus, version: version, stabilityWindowSeconds: stabilityWindowSeconds)
        try manifest.canonicalJSON().write(to: URL(fileURLWithPath: directory + "/module.json"))
        let path = "\(root)/image-\(version)"
        try ImagePacker.write(try ImagePacker(signingKey: key).pack(moduleDirectory: directory), to: path)
        return path
    }
    let runner = ChildProcessRunner(executable: runnerPath, stateDirectory: state)
    do {
        _ = try UpdateEngine(stateDirectory: state, runner: runner).install(imageAt: try image("1.0.0", stabilityWindowSeconds: 1))
    }
    // The module's data directory holds the bus number its hardware report uses.
    try expect(FileManager.default.createFile(atPath: "\(state)/modules/\(id)/data/i2c-bus", contents: Data(bus.utf8)), "writing i2c-bus")

    let runtime = HostRuntime(stateDirectory: state, runner: runner, freshUpdateWindow: 600)
    try runtime.start()
    defer { runtime.stop() }
    let clock = WallClock()
    defer { clock.restore() }
    func module() -> ModuleSupervisor.Status? { runtime.snapshot.modules.first { $0.id == id } }
    func waitRunning(_ version: String) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !(module()?.version == version && module()?.state == .running) { usleep(100_000) }
        try expect(module()?.version == version && module()?.state == .running, "\(version) is not running: \(runtime.snapshot)")
    }
    /// The module is running `version`, has not failed or restarted, and answers a command.
    func expectUndisturbed(_ version: String, _ when: String) throws {
        try expect(module()?.version == version && module()?.state == .running, "\(when): \(String(describing: module()))")
        try expect(module()?.restarts == 0 && module()?.recentFailures == 0, "\(when): a restart or failure: \(String(describing: module())); events \(runtime.snapshot.events)")
        let report = try runtime.call(module: id, command: "hardware", arguments: [], timeout: .seconds(20))
        guard case let .string(text) = report, text.contains("sensor: chip id 0x60") else {
            throw LabFailure(description: "\(when): the hardware command answered \(report)")
        }
    }
    try waitRunning("1.0.0")

    // Under a running host: a year forward, then two years back (a year before the start).
    let year = 365 * 24 * 3600
    try clock.jump(by: year)
    sleep(4)   // four heartbeat intervals
    try expectUndisturbed("1.0.0", "a year forward")
    try clock.jump(by: -2 * year)
    sleep(4)
    try expectUndisturbed("1.0.0", "a year back")
    clock.restore()

    // During an install: the clock jumps forward and back while 1.1.0's 4 s health check runs.
    _ = runtime.pause(id)
    let jumper = Thread {
        usleep(1_500_000)
        try? clock.jump(by: year)
        usleep(1_500_000)
        try? clock.jump(by: -2 * year)
    }
    jumper.start()
    let report: UpdateEngine.Report
    do {
        report = try UpdateEngine(stateDirectory: state, runner: runner).install(imageAt: try image("1.1.0", stabilityWindowSeconds: 4))
    } catch {
        runtime.resume(id)
        throw LabFailure(description: "the install across clock jumps failed: \(error)")
    }
    runtime.resume(id)
    try expect(report.record.result == .committed, "1.1.0 was not committed: \(report.record)")
    try expect(report.record.finishedIn?.secondsAgo() != nil, "the record has no boot-clock instant of this boot: \(report.record)")
    try waitRunning("1.1.0")
    // The update is fresh by the boot clock, whatever the wall clock says now.
    try clock.jump(by: year)
    sleep(3)
    try expectUndisturbed("1.1.0", "after the install, a year forward")
    let events = runtime.snapshot.events
    try expect(!events.contains { $0.contains("restarting") || $0.contains("broken") || $0.contains("rolling back") || $0.contains("rolled back") },
               "the host acted on a clock jump: \(events)")
    print("  clock jumps: none disturbed the module (events: \(events.count))")
}
