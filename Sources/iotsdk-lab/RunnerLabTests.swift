import CIoTLinux
import Foundation
import IoTSDK
import PluginHost
import TestSupport

/// A module in its runner, driving real lines through the host: the Swift example module
/// (Examples/ExampleModuleSwift), whose IoTSDK switches to the host-mediated backend by itself,
/// runs in `plugin-host-runner` (a separate process) with this process as its host. Scripts/test.sh
/// puts both next to this binary in the VM (Scripts/lab/run.sh's LAB_EXTRA_FILES).
let runnerLabTests: [LabTest] = [
    LabTest(name: "runner.swift-module-drives-gpio-sim-takes-edges-reads-i2c-stub-through-the-host") {
        try runExampleModule(sandbox: nil)
    },
    LabTest(name: "runner.sandboxed-swift-module-on-cgroup-v2-drives-gpio-sim-reads-i2c-stub") {
        // The lab kernel offers cgroup v2 (this machine's host kernel offers v1 for these
        // controllers): mount it where the host looks for it.
        if !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            try FileManager.default.createDirectory(atPath: "/sys/fs/cgroup", withIntermediateDirectories: true)
            try expect(mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, nil) == 0, "mount cgroup2: errno \(errno)")
        }
        // The module's library lives in /lab, the Swift runtime it links where run.sh copied it.
        guard let runtime = ["/opt", "/usr"].lazy.compactMap({ findDirectory(containing: "libswiftCore.so", under: $0) }).first else {
            throw LabFailure(description: "no libswiftCore.so in the VM")
        }
        try runExampleModule(sandbox: SandboxOptions(readOnlyPaths: ["/lab", runtime]))
    },
    LabTest(name: "runner.escape-probe-denied-by-the-syscall-filter-on-the-real-kernel-gpio-input-stays-input") {
        try runEscapeProbe()
    },
    LabTest(name: "runner.sandboxed-wasm-module-drives-gpio-sim-reads-i2c-stub-refused-where-undeclared") {
        try runWasmHardwareModule()
    },
    LabTest(name: "runner.swift-module-on-a-legacy-sysfs-chip-through-the-host") {
        // The host's broker sees no /dev/gpiochip* (as on a kernel without the character device)
        // and hands over sysfs value files: the module's IoTSDK works on them unchanged.
        try runExampleModule(sandbox: nil, legacySysfs: true)
    },
]

/// The first directory under `root` that holds `file`.
func findDirectory(containing file: String, under root: String) -> String? {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return nil }
    while let relative = walker.nextObject() as? String {
        if (relative as NSString).lastPathComponent == file { return root + "/" + (relative as NSString).deletingLastPathComponent }
    }
    return nil
}

/// The Swift example's manifest for the lab: the example's module.json names gpiochip0 and bus 1,
/// which is what a Pi has; here the Pi-like bank and i2c-stub have other numbers.
func exampleSwiftManifest(chip: String, bus: String, version: String = "1.0.0", stabilityWindowSeconds: Double = 1) throws -> ModuleManifest {
    try ModuleManifest.decode(Data("""
        {"id": "com.example.thermostat-swift", "version": "\(version)", "abi": 1,
         "library": {"path": "lib/libExampleModuleSwift.so", "entryPoints": {"start": "thermostat_start", "stop": "thermostat_stop"}},
         "commands": [{"name": "heater", "symbol": "thermostat_heater", "parameters": [{"name": "on", "type": "bool"}]},
                      {"name": "hardware", "symbol": "thermostat_hardware", "parameters": [], "returns": "string"},
                      {"name": "read_register", "symbol": "thermostat_read_register",
                       "parameters": [{"name": "address", "type": "uint32"}, {"name": "register", "type": "uint32"}]}],
         "capabilities": {"gpio": [{"chip": "\(chip)", "line": 17, "direction": "output"},
                                   {"chip": "\(chip)", "line": 27, "direction": "input"}],
                          "i2c": [{"bus": \(bus), "addresses": [118]}], "storageQuotaBytes": 1048576, "network": false},
         "resources": {"memoryBytes": 67108864, "cpuPercent": 50, "maxProcesses": 16, "maxOpenFiles": 64},
         "hooks": {},
         "health": {"readyTimeoutSeconds": 30, "heartbeatIntervalSeconds": 1, "stabilityWindowSeconds": \(stabilityWindowSeconds), "maxRestarts": 1, "restartWindowSeconds": 60}}
        """.utf8))
}

/// Runs the example module in its runner (sandboxed or not) with this process as its host, and
/// checks what it does to gpio-sim and i2c-stub.
func runExampleModule(sandbox: SandboxOptions?, legacySysfs: Bool = false) throws {
    let runnerPath = "/lab/plugin-host-runner", libraryPath = "/lab/libExampleModuleSwift.so"
    for path in [runnerPath, libraryPath] where !FileManager.default.fileExists(atPath: path) {
        throw LabFailure(description: "\(path) is missing: run the lab through Scripts/test.sh, which builds it and passes it in LAB_EXTRA_FILES")
    }
    let gpio = try GPIO.linux(.characterDevice)
    let chips = try LabChips(gpio)
    let sim = try GPIOSim()
    let bus = try environment("IOTLAB_I2C_BUS")
    // The chip as the manifest names it: its character device, or its legacy sysfs name.
    guard let piBase = chips.pi.sysfsBase else { throw LabFailure(description: "the Pi bank has no sysfs base") }
    let piChip = legacySysfs ? "gpiochip\(piBase)" : chips.pi.name
    // The example's module.json names gpiochip0 and bus 1, which is what a Pi has; here the
    // Pi-like bank and i2c-stub have other numbers, so the lab's manifest names them.
    let manifest = try exampleSwiftManifest(chip: piChip, bus: bus)
    let root = "/tmp/runner-lab" + (sandbox == nil ? "" : "-sandboxed") + (legacySysfs ? "-sysfs" : "")
    for directory in ["module/lib", "data", "state"] {
        try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
    }
    try expect(FileManager.default.createFile(atPath: "\(root)/data/i2c-bus", contents: Data(bus.utf8)), "writing \(root)/data/i2c-bus")
    try? FileManager.default.removeItem(atPath: "\(root)/module/lib/libExampleModuleSwift.so")
    try FileManager.default.createSymbolicLink(atPath: "\(root)/module/lib/libExampleModuleSwift.so", withDestinationPath: libraryPath)
    let auditLog = AuditLog(stateDirectory: "\(root)/state")
    var factory: (@Sendable (ModuleContext) -> HardwareBroker)? = nil
    if legacySysfs {
        // A /dev for the broker with the I2C bus and no GPIO character device.
        let dev = "\(root)/dev"
        try FileManager.default.createDirectory(atPath: dev, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: "\(dev)/i2c-\(bus)")
        try FileManager.default.createSymbolicLink(atPath: "\(dev)/i2c-\(bus)", withDestinationPath: "/dev/i2c-\(bus)")
        factory = { context in
            HardwareBroker(moduleID: context.manifest.id, capabilities: context.manifest.capabilities, audit: auditLog, devRoot: dev)
        }
    }
    let runner = ChildProcessRunner(executable: runnerPath, sandbox: sandbox, stateDirectory: "\(root)/state", brokerFactory: factory)
    let instance = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: "\(root)/module", dataDirectory: "\(root)/data"))
    var stopped = false
    defer { if !stopped { _ = instance.stop(timeout: .seconds(5)) } }
    let deadline = ContinuousClock.now + .seconds(60)
    var event = instance.nextEvent(before: deadline)
    while event == .heartbeat { event = instance.nextEvent(before: deadline) }
    try expect(event == .ready, "the module did not get ready: \(String(describing: event)); output: \(instance.output)")

    func report() throws -> String {
        guard case let .string(text) = try instance.call(command: "hardware", arguments: [], manifest: manifest, timeout: .seconds(30)) else {
            throw LabFailure(description: "hardware returned no string")
        }
        return text
    }
    if sandbox != nil {
        // Every limit went into one cgroup v2 leaf, and the module's processes are in it.
        let base = "/sys/fs/cgroup/plugin-host"
        let leaf = try FileManager.default.contentsOfDirectory(atPath: base).first { $0.hasPrefix("com.example.thermostat-swift@run-") }
        guard let leaf else { throw LabFailure(description: "no cgroup leaf under \(base); output: \(instance.output)") }
        let directory = base + "/" + leaf
        try expectEqual(try readFile(directory + "/memory.max"), "67108864", "memory.max")
        try expectEqual(try readFile(directory + "/cpu.max"), "50000 100000", "cpu.max")
        try expectEqual(try readFile(directory + "/pids.max"), "21", "pids.max (16 + the runners' 5 tasks)")
        try expect(!(try readFile(directory + "/cgroup.procs")).isEmpty, "no process in \(directory)")
        // The one part the VM refuses: pivot_root out of the initramfs (rootfs cannot be
        // unmounted), for which the runner moves the new root over / and chroots.
        let refused = instance.output.split(separator: "\n").filter { $0.contains("not applied") && !$0.contains("pivot_root") }
        try expect(refused.isEmpty, "parts of the sandbox were not applied: \(refused)")
    }
    let first = try report()
    try expect(first.hasPrefix("gpio: mediated\n"), "the module's GPIO.linux() is not mediated:\n\(first)")
    try expect(first.contains("heater: BCM 17, inactive"), "heater:\n\(first)\noutput:\n\(instance.output)")
    try expect(first.contains("window: BCM 27, "), "window:\n\(first)")
    try expect(first.contains("sensor: chip id 0x60"), "the BME280 chip id through the host:\n\(first)")

    // The module drives the line through the descriptor the host handed over.
    try expectEqual(try sim.driven(chips.pi, 17), false, "heater before")
    try expectEqual(try instance.call(command: "heater", arguments: [.bool(true)], manifest: manifest, timeout: .seconds(30)), .int32(0))
    try expectEqual(try sim.driven(chips.pi, 17), true, "gpio-sim sees the module's heater on")

    // An edge on the window contact reaches the module's event stream.
    // Toggle the contact until the module has counted an edge. A character-device request
    // queues edges from the moment it is made; a sysfs value file only wakes a poll that is
    // already waiting, so an edge before the module's event task has subscribed is not seen
    // there, and the next one is.
    var edges = ""
    var toggles = 0
    while toggles < 6 {
        try sim.pull(chips.pi, 27, up: try sim.currentPull(chips.pi, 27) != "pull-up")
        toggles += 1
        usleep(300_000)   // before the report reads the line (on sysfs, a read takes a pending notification)
        edges = try report()
        if !edges.contains(", 0 edges") { break }
    }
    print("  edges seen by the module after \(toggles) toggle(s): \(edges.split(separator: "\n").first { $0.hasPrefix("window") } ?? "")")
    try expect(edges.contains("window: BCM 27, ") && !edges.contains(", 0 edges"), "no edge event reached the module after \(toggles) toggles:\n\(edges)\noutput:\n\(instance.output)")

    // An address the manifest does not declare: refused, though i2c-stub answers there.
    try expectEqual(try instance.call(command: "read_register", arguments: [.uint32(0x50), .uint32(0x00)], manifest: manifest, timeout: .seconds(30)),
                    .int32(-13), "undeclared 0x50")
    let audit = AuditLog(stateDirectory: "\(root)/state").entries()
    if sandbox != nil {
        // Sandboxed, the module reads on the bus descriptor the host handed over; the syscall
        // filter refuses it 0x50 (I2C_SLAVE), and the host audits the filter's denial.
        try expect(audit.contains { $0.resource == "i2c" && $0.decision == "granted" && $0.request == "i2c-\(bus) descriptor (addresses 0x76)" },
                   "no descriptor granted: \(audit.filter { $0.resource == "i2c" })")
        try expect(audit.contains { $0.resource == "syscall" && $0.decision == "denied" && $0.request == "ioctl(I2C_SLAVE 0x50)" },
                   "no audit line for the filter's denial of 0x50: \(audit.filter { $0.resource != "gpio" })")
    } else {
        try expect(audit.contains { $0.decision == "denied" && $0.request.hasPrefix("i2c-\(bus) 0x50") }, "no audit line for 0x50: \(audit)")
    }

    // Stopping the module drives its output to the safe state.
    stopped = true
    _ = instance.stop(timeout: .seconds(10))
    try expectEqual(try sim.driven(chips.pi, 17), false, "heater after the module stopped")
}

/// The wasm hardware module (Tests/Fixtures/wasm/hardware.c, built for wasm32 by Scripts/test.sh),
/// sandboxed, with this process as its host: through the runner, which holds the line request the
/// host granted, it drives a gpio-sim line, takes the edges of another, and reads the BME280 chip
/// id from i2c-stub; a line and an address it did not declare are refused and audited; stopping it
/// drives the line inactive.
func runWasmHardwareModule() throws {
    let runnerPath = "/lab/plugin-host-runner", wasmPath = "/lab/hardware.wasm"
    for path in [runnerPath, wasmPath] where !FileManager.default.fileExists(atPath: path) {
        throw LabFailure(description: "\(path) is missing: run the lab through Scripts/test.sh, which builds it and passes it in LAB_EXTRA_FILES")
    }
    let chips = try LabChips(try GPIO.linux(.characterDevice))
    let sim = try GPIOSim()
    let bus = try environment("IOTLAB_I2C_BUS")
    let root = "/tmp/wasm-lab"
    for directory in ["module/lib", "data", "state"] {
        try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
    }
    try? FileManager.default.removeItem(atPath: "\(root)/module/lib/hardware.wasm")
    try FileManager.default.createSymbolicLink(atPath: "\(root)/module/lib/hardware.wasm", withDestinationPath: wasmPath)
    let manifest = try ModuleManifest.decode(Data("""
        {"id": "com.example.wasm-hardware", "version": "1.0.0", "abi": 1,
         "library": {"kind": "wasm", "path": "lib/hardware.wasm", "entryPoints": {"start": "probe_start", "stop": "probe_stop"}},
         "commands": [
           {"name": "open", "symbol": "hw_open", "parameters": [{"name": "chip", "type": "string"}, {"name": "line", "type": "uint32"}, {"name": "bus", "type": "uint32"}]},
           {"name": "request", "symbol": "hw_request", "parameters": [{"name": "chip", "type": "string"}, {"name": "line", "type": "uint32"}]},
           {"name": "set", "symbol": "hw_set", "parameters": [{"name": "active", "type": "bool"}]},
           {"name": "get", "symbol": "hw_get", "parameters": []},
           {"name": "read", "symbol": "hw_read", "parameters": [{"name": "register", "type": "uint32"}, {"name": "address", "type": "uint32"}]},
           {"name": "events", "symbol": "hw_events", "parameters": [{"name": "chip", "type": "string"}, {"name": "line", "type": "uint32"}]},
           {"name": "wait", "symbol": "hw_wait", "parameters": [{"name": "timeout_ms", "type": "int32"}]}],
         "capabilities": {"gpio": [{"chip": "\(chips.pi.name)", "line": 17, "direction": "output"}, {"chip": "\(chips.pi.name)", "line": 27, "direction": "input"}],
                          "i2c": [{"bus": \(bus), "addresses": [118]}], "storageQuotaBytes": 0, "network": false},
         "resources": {"memoryBytes": 67108864, "cpuPercent": 50, "maxProcesses": 16, "maxOpenFiles": 64},
         "hooks": {}, "health": {"readyTimeoutSeconds": 30, "heartbeatIntervalSeconds": 30, "stabilityWindowSeconds": 1, "maxRestarts": 1, "restartWindowSeconds": 60}}
        """.utf8))
    let runner = ChildProcessRunner(executable: runnerPath, sandbox: SandboxOptions(readOnlyPaths: ["/lab"]), stateDirectory: "\(root)/state")
    let instance = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: "\(root)/module", dataDirectory: "\(root)/data"))
    var stopped = false
    defer { if !stopped { _ = instance.stop(timeout: .seconds(5)) } }
    let event = instance.nextEvent(before: .now + .seconds(60))
    try expect(event == .ready, "the wasm module did not get ready: \(String(describing: event)); output: \(instance.output)")
    func call(_ command: String, _ arguments: [CommandValue]) throws -> CommandValue {
        try instance.call(command: command, arguments: arguments, manifest: manifest, timeout: .seconds(30))
    }
    guard case let .int32(handle) = try call("open", [.string(chips.pi.name), .uint32(17), .uint32(UInt32(bus) ?? 0)]), handle >= 0 else {
        throw LabFailure(description: "the declared line was not granted; output:\n\(instance.output)")
    }
    try expectEqual(try sim.driven(chips.pi, 17), false, "line 17 after the request (inactive)")
    try expectEqual(try call("set", [.bool(true)]), .int32(0), "set active")
    try expectEqual(try sim.driven(chips.pi, 17), true, "gpio-sim sees the wasm module's line active")
    try expectEqual(try call("get", []), .int32(1), "the module reads its line back")
    try expectEqual(try call("set", [.bool(false)]), .int32(0), "set inactive")
    try expectEqual(try sim.driven(chips.pi, 17), false, "gpio-sim sees it inactive again")
    try expectEqual(try call("set", [.bool(true)]), .int32(0), "set active before the stop")
    // Edge events on an input, through the runner, which waits on the line request for the module.
    guard case let .int32(events) = try call("events", [.string(chips.pi.name), .uint32(27)]), events >= 0 else {
        throw LabFailure(description: "the declared input was not granted with edges; output:\n\(instance.output)")
    }
    try expectEqual(try call("wait", [.int32(0)]), .int32(0), "no edge before the pull changes")
    let pulledUp = try sim.currentPull(chips.pi, 27) == "pull-up"
    try sim.pull(chips.pi, 27, up: !pulledUp)
    try expectEqual(try call("wait", [.int32(5000)]), .int32(pulledUp ? 2 : 1), "the edge gpio-sim made (\(pulledUp ? "falling" : "rising"))")
    try sim.pull(chips.pi, 27, up: pulledUp)
    try expectEqual(try call("wait", [.int32(5000)]), .int32(pulledUp ? 1 : 2), "the edge back")
    // The BME280's chip id (register 0xD0 = 0x60 on the lab's i2c-stub), brokered.
    try expectEqual(try call("read", [.uint32(0xD0), .uint32(0x76)]), .int32(0x60), "the chip id at 0x76")
    // Undeclared: refused, though gpio-sim and i2c-stub would answer there.
    try expectEqual(try call("read", [.uint32(0x00), .uint32(0x50)]), .int32(-2), "undeclared 0x50 (-EACCES in WASI's numbering)")
    try expectEqual(try call("request", [.string(chips.pi.name), .uint32(18)]), .int32(-2), "undeclared line 18 (-EACCES in WASI's numbering)")
    let audit = AuditLog(stateDirectory: "\(root)/state").entries()
    try expect(audit.contains { $0.decision == "denied" && $0.request.hasPrefix("i2c-\(bus) 0x50") }, "no audit line for 0x50: \(audit)")
    try expect(audit.contains { $0.decision == "denied" && $0.request.contains("line 18") }, "no audit line for line 18: \(audit)")
    // Stopping the module drives its output to the safe state.
    stopped = true
    _ = instance.stop(timeout: .seconds(10))
    try expectEqual(try sim.driven(chips.pi, 17), false, "line 17 after the wasm module stopped")
}

/// The escape probe (Tests/Fixtures/modules/escape_probe.c, built by Scripts/test.sh) as a hook in
/// the sandbox on the lab's kernel: every escape denied, each denial of the syscall filter counted;
/// a declared input line of gpio-sim stays an input, by ioctl and through the host, while the
/// host sets its bias and edges.
func runEscapeProbe() throws {
    let runnerPath = "/lab/plugin-host-runner", libraryPath = "/lab/libEscapeProbe.so"
    for path in [runnerPath, libraryPath] where !FileManager.default.fileExists(atPath: path) {
        throw LabFailure(description: "\(path) is missing: run the lab through Scripts/test.sh, which builds it and passes it in LAB_EXTRA_FILES")
    }
    let chips = try LabChips(try GPIO.linux(.characterDevice))
    let bus = try environment("IOTLAB_I2C_BUS")
    let root = "/tmp/escape-lab"
    for directory in ["module/lib", "data", "state", "other"] {
        try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
    }
    try? FileManager.default.removeItem(atPath: "\(root)/module/lib/libEscapeProbe.so")
    try FileManager.default.createSymbolicLink(atPath: "\(root)/module/lib/libEscapeProbe.so", withDestinationPath: libraryPath)
    let listener = try Loopback.listen()
    defer { close(listener.fd) }
    try "other_data=\(root)/other\nport=\(listener.port)\ni2c_declared=0x76\ni2c_bus=\(bus)\ngpio_chip=\(chips.pi.name)\ngpio_input=27\n"
        .write(toFile: "\(root)/module/escape-targets", atomically: true, encoding: .utf8)
    let manifest = try ModuleManifest.decode(Data("""
        {"id": "com.example.escape-probe", "version": "1.0.0", "abi": 1,
         "library": {"path": "lib/libEscapeProbe.so", "entryPoints": {"start": "escape_probe", "stop": "escape_probe"}}, "commands": [],
         "capabilities": {"gpio": [{"chip": "\(chips.pi.name)", "line": 27, "direction": "input"}],
                          "i2c": [{"bus": \(bus), "addresses": [118]}], "storageQuotaBytes": 0, "network": false},
         "resources": {"memoryBytes": 67108864, "cpuPercent": 50, "maxProcesses": 16, "maxOpenFiles": 64},
         "hooks": {}, "health": {"readyTimeoutSeconds": 30, "heartbeatIntervalSeconds": 1, "stabilityWindowSeconds": 1, "maxRestarts": 1, "restartWindowSeconds": 60}}
        """.utf8))
    let runner = ChildProcessRunner(executable: runnerPath, sandbox: SandboxOptions(readOnlyPaths: ["/lab"]), stateDirectory: "\(root)/state")
    let result = runner.runHook(name: "verify", hook: ModuleManifest.Hook(symbol: "escape_probe", timeoutSeconds: 60),
                                context: ModuleContext(manifest: manifest, moduleDirectory: "\(root)/module", dataDirectory: "\(root)/data"))
    try expect(result.outcome == .succeeded, "the probe did not run: \(result.outcome); output:\n\(result.output)")
    let results = EscapeProbe.results(dataDirectory: "\(root)/data")
    let counts = runner.denials.counts(of: manifest.id)
    // The GPIO and I2C parts make some filtered calls again, on the granted descriptors themselves.
    let problems = EscapeProbe.problems(results: results, counts: counts, sysrqTrigger: true,
                                        extraCalls: ["ioctl(GPIO_V2_LINE_SET_CONFIG_IOCTL)": 1, "ioctl(I2C_SLAVE 0x50)": 1, "ioctl(I2C_RDWR)": 1, "ioctl(I2C_TENBIT)": 1])
    try expect(problems.isEmpty, "escapes not denied as they must be on the real kernel:\n\(problems.joined(separator: "\n"))\noutput:\n\(result.output)")
    print("  \(EscapeProbe.filtered.count) escapes stopped by the filter, \(counts.values.reduce(0, +)) denials counted: \(counts.keys.sorted().joined(separator: " "))")

    // The bus descriptor: the declared BME280 (chip id 0xD0 = 0x60 on the lab's i2c-stub) only.
    try expectEqual(results["i2c_open_declared"], "ok", "opening the declared bus through the host")
    try expectEqual(results["i2c_open_undeclared"], "EACCES", "opening a bus the manifest does not declare")
    try expectEqual(results["i2c_fd_slave_declared"], "ok", "selecting the declared address on the descriptor")
    try expectEqual(results["i2c_fd_read_0xd0"], "0x60", "the chip id read on the descriptor")
    for (escape, what) in [("i2c_fd_slave_undeclared", "another address"), ("i2c_fd_rdwr", "I2C_RDWR"), ("i2c_fd_tenbit", "ten-bit addressing")] {
        try expectEqual(results[escape], "EPERM", "\(what) on the descriptor")
    }
    try expectEqual(results["gpio_request_input"], "ok", "requesting the declared input")
    try expectEqual(results["gpio_input_to_output_ioctl"], "EPERM", "the input made an output by ioctl")
    try expectEqual(results["gpio_input_to_output_host"], "EACCES", "the input made an output through the host")
    try expectEqual(results["gpio_input_pull_up_host"], "ok", "a pull-up and both edges through the host")
    try expectEqual(results["gpio_reconfigure_other_fd"], "EBADF", "a descriptor the host did not grant")
    let flags = UInt64(results["gpio_line_flags"]?.dropFirst(2) ?? "", radix: 16) ?? 0
    let wanted = CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING
    try expect(flags & wanted == wanted && flags & CIOT_GPIO_V2_LINE_FLAG_OUTPUT == 0,
               "line 27 after the probe: flags 0x\(String(flags, radix: 16)), wanted input, pull-up, both edges (\(results["gpio_line_flags"] ?? "none"))")
    let audit = AuditLog(stateDirectory: "\(root)/state").entries()
    try expect(audit.contains { $0.decision == "denied" && $0.request.hasPrefix("reconfigure \(chips.pi.name) line 27 output") },
               "no audit line for the refused reconfiguration: \(audit.filter { $0.resource == "gpio" })")
}
