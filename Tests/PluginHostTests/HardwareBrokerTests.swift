import CIoTLinux
import Foundation
import ModuleProtocol
import Testing
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime

/// The broker's decisions, which need no hardware: undeclared lines, directions, buses and
/// addresses are denied and audited. (Grants on a real kernel: Sources/iotsdk-lab/BrokerLabTests.swift, in the QEMU lab.)
@Suite("Hardware broker")
struct HardwareBrokerTests {
    static let capabilities = ModuleManifest.Capabilities(
        gpio: [.init(chip: "gpiochip0", line: 17, direction: .output), .init(chip: "gpiochip0", line: 27, direction: .input)],
        i2c: [.init(bus: 1, addresses: [0x76])])

    /// A broker for `capabilities` with an audit log in the fixture and an empty /dev: a
    /// declared request that got past the checks fails to open, and is not denied.
    static func broker(in fixture: Fixture) throws -> (HardwareBroker, AuditLog) {
        try FileManager.default.createDirectory(atPath: fixture.path("state"), withIntermediateDirectories: true)
        let audit = AuditLog(stateDirectory: fixture.path("state"))
        return (HardwareBroker(moduleID: "com.example.x", capabilities: capabilities, audit: audit, devRoot: fixture.path("dev"), sysfsRoot: fixture.path("sys")), audit)
    }

    @Test("undeclared GPIO lines, wrong directions, buses and addresses are denied, with an audit line each")
    func denials() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let (broker, audit) = try Self.broker(in: fixture)

        guard case let .failure(.denied(line))? = Optional(broker.requestGPIO(chip: "gpiochip0", line: 18, direction: .output, initialValue: false)) else {
            Issue.record("line 18 was not denied"); return
        }
        #expect(line.contains("gpiochip0 line 18 output is not declared"))
        #expect(line.contains("declared: gpiochip0 line 17 output, gpiochip0 line 27 input"))
        #expect(broker.requestGPIO(chip: "gpiochip0", line: 27, direction: .output, initialValue: true)
            == .failure(.denied("gpiochip0 line 27 is declared as input, not output")))
        #expect(broker.requestGPIO(chip: "gpiochip1", line: 17, direction: .output, initialValue: false).isDenied)
        #expect(broker.i2cTransfer(bus: 0, address: 0x76, segments: [.write([0xD0]), .read(count: 1)])
            == .failure(.denied("bus i2c-0 is not declared in capabilities.i2c")))
        #expect(broker.i2cTransfer(bus: 1, address: 0x77, segments: [.write([0xD0]), .read(count: 1)])
            == .failure(.denied("address 0x77 on i2c-1 is not declared (declared: 0x76)")))

        // A declared request passes the checks and reaches the kernel (here: no such device).
        guard case let .failure(.failed(reason, code))? = Optional(broker.requestGPIO(chip: "gpiochip0", line: 17, direction: .output, initialValue: false)) else {
            Issue.record("the declared line was not tried"); return
        }
        #expect(reason.contains("cannot open"))
        #expect(code == ENOENT)

        let entries = audit.entries()
        #expect(entries.count == 5)
        #expect(entries.allSatisfy { $0.decision == "denied" && $0.module == "com.example.x" && $0.reason != nil })
        #expect(entries.map(\.resource) == ["gpio", "gpio", "gpio", "i2c", "i2c"])
        #expect(entries.last?.request == "i2c-1 0x77 write 1 read 1")
    }

    /// A kernel line config as bytes: `flags` for every line, then per-line overrides.
    static func config(_ flags: UInt64, overrides: [(flags: UInt64, mask: UInt64)] = []) -> [UInt8] {
        var config = ciot_gpio_v2_line_config()
        ciot_gpio_v2_config_init(&config)
        config.flags = flags
        for override in overrides { _ = ciot_gpio_v2_config_add_flags(&config, override.flags, override.mask) }
        return withUnsafeBytes(of: &config) { Array($0) }
    }

    @Test("line requests with a kernel config: every line's effective flags are checked against the manifest")
    func lineRequests() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let (broker, audit) = try Self.broker(in: fixture)
        let output = CIOT_GPIO_V2_LINE_FLAG_OUTPUT, input = CIOT_GPIO_V2_LINE_FLAG_INPUT
        let edges = CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP

        // 17 output (default flags), 27 input with edges and a pull-up (an override): declared,
        // so the request reaches the kernel (here: no such device).
        guard case let .failure(.failed(reason, code)) = broker.requestGPIOLines(
            chip: "gpiochip0", offsets: [17, 27], config: Self.config(output, overrides: [(input | edges, 0b10)])) else {
            Issue.record("the declared lines were not tried"); return
        }
        #expect(code == ENOENT && reason.contains("cannot open"))

        // Line 27 asked as an output through the default flags: the manifest says input.
        #expect(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17, 27], config: Self.config(output))
            == .failure(.denied("gpiochip0 line 27 is declared as input, not output")))
        guard case let .failure(.denied(undeclared)) = broker.requestGPIOLines(chip: "gpiochip0", offsets: [17, 18], config: Self.config(output)) else {
            Issue.record("line 18 was not denied"); return
        }
        #expect(undeclared.hasPrefix("gpiochip0 line 18 output is not declared"))

        // Malformed requests fail without reaching the kernel or the audit log.
        func invalid(_ result: Result<Int32, HardwareBroker.Refusal>) -> Bool {
            if case .failure(.failed(_, EINVAL)) = result { return true }
            return false
        }
        #expect(invalid(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17], config: Self.config(0))))
        #expect(invalid(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17], config: Self.config(input | output))))
        #expect(invalid(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17], config: Self.config(output | CIOT_GPIO_V2_LINE_FLAG_USED))))
        #expect(invalid(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17, 17], config: Self.config(output))))
        #expect(invalid(broker.requestGPIOLines(chip: "gpiochip0", offsets: [17], config: Array(Self.config(output).dropLast()))))

        let entries = audit.entries()
        #expect(entries.map(\.decision) == ["denied", "denied"])
        #expect(entries.map(\.request) == ["gpiochip0 line 17 output, line 27 output", "gpiochip0 line 17 output, line 18 output"])
    }

    @Test("a legacy sysfs chip (no /dev node): one line exported, configured as asked, its value file handed over; inactive and unexported on stop")
    func sysfsLines() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        // A sysfs tree as the kernel shows a chip at base 512, with gpio529 (line 17) and gpio539
        // (line 27) as export would make them.
        let gpio = fixture.path("sys/class/gpio")
        for directory in ["gpiochip512", "gpio529", "gpio539"] {
            try FileManager.default.createDirectory(atPath: gpio + "/" + directory, withIntermediateDirectories: true)
        }
        for (file, text) in [("gpiochip512/base", "512\n"), ("gpiochip512/ngpio", "58\n"), ("gpiochip512/label", "pinctrl-bcm2711\n"),
                             ("export", ""), ("unexport", ""), ("gpio529/value", "0"), ("gpio539/value", "0"),
                             ("gpio529/active_low", ""), ("gpio529/direction", ""), ("gpio529/edge", ""),
                             ("gpio539/active_low", ""), ("gpio539/direction", ""), ("gpio539/edge", "")] {
            #expect(FileManager.default.createFile(atPath: gpio + "/" + file, contents: Data(text.utf8)))
        }
        try FileManager.default.createDirectory(atPath: fixture.path("state"), withIntermediateDirectories: true)
        let capabilities = ModuleManifest.Capabilities(gpio: [.init(chip: "gpiochip512", line: 17, direction: .output),
                                                              .init(chip: "gpiochip512", line: 27, direction: .input)])
        let audit = AuditLog(stateDirectory: fixture.path("state"))
        let broker = HardwareBroker(moduleID: "com.example.x", capabilities: capabilities, audit: audit,
                                    devRoot: fixture.path("dev"), sysfsRoot: fixture.path("sys"))
        func read(_ file: String) -> String { (try? String(contentsOfFile: gpio + "/" + file, encoding: .utf8)) ?? "(missing)" }

        // Chip info comes from sysfs.
        guard case let .success(chipBytes) = broker.gpioChipInfo(index: 0) else { Issue.record("no chip info"); return }
        var chip = ciot_gpiochip_info()
        withUnsafeMutableBytes(of: &chip) { $0.copyBytes(from: chipBytes) }
        #expect(chip.lines == 58)

        // Output, initially active, active-low: raw level low.
        var config = ciot_gpio_v2_line_config()
        ciot_gpio_v2_config_init(&config)
        config.flags = CIOT_GPIO_V2_LINE_FLAG_OUTPUT | CIOT_GPIO_V2_LINE_FLAG_ACTIVE_LOW
        _ = ciot_gpio_v2_config_add_output_values(&config, 1, 1)
        guard case let .success(fd) = broker.requestGPIOLines(chip: "gpiochip512", offsets: [17], config: withUnsafeBytes(of: &config) { Array($0) }) else {
            Issue.record("line 17 was not granted"); return
        }
        #expect(read("export") == "529")
        #expect(read("gpio529/active_low") == "1")
        #expect(read("gpio529/direction") == "low")
        var written: [UInt8] = [0x31]
        #expect(pwrite(fd, &written, 1, 0) == 1)
        close(fd)
        #expect(read("gpio529/value") == "1")

        // Input with edges on both sides.
        let input = Self.config(CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING)
        guard case let .success(inputFD) = broker.requestGPIOLines(chip: "gpiochip512", offsets: [27], config: input) else {
            Issue.record("line 27 was not granted"); return
        }
        close(inputFD)
        #expect(read("gpio539/direction") == "in" && read("gpio539/edge") == "both")

        // What sysfs cannot do is refused, not dropped; undeclared lines are denied.
        guard case .failure(.failed(_, EOPNOTSUPP)) = broker.requestGPIOLines(
            chip: "gpiochip512", offsets: [27], config: Self.config(CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP)) else {
            Issue.record("a pull-up on sysfs was not refused"); return
        }
        guard case .failure(.failed(_, EOPNOTSUPP)) = broker.requestGPIOLines(
            chip: "gpiochip512", offsets: [17, 27],
            config: Self.config(CIOT_GPIO_V2_LINE_FLAG_OUTPUT, overrides: [(CIOT_GPIO_V2_LINE_FLAG_INPUT, 0b10)])) else {
            Issue.record("two sysfs lines in one request were not refused"); return
        }
        #expect(broker.requestGPIOLines(chip: "gpiochip512", offsets: [4], config: Self.config(CIOT_GPIO_V2_LINE_FLAG_OUTPUT)).isDenied)

        // Stop: the output is driven inactive ("0") and both lines are unexported.
        #expect(broker.driveOutputsToSafeState() == ["gpio529"])
        #expect(read("gpio529/value") == "0")
        #expect(read("unexport") == "539")   // the last of the two writes
    }

    @Test("chip and line info: declared chips by index, declared lines only, nothing audited")
    func info() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let (broker, audit) = try Self.broker(in: fixture)
        guard case .failure(.failed(_, ENOENT)) = broker.gpioChipInfo(index: 0) else { Issue.record("chip 0 was not looked up"); return }
        guard case .failure(.failed(_, ERANGE)) = broker.gpioChipInfo(index: 1) else { Issue.record("one chip is declared, index 1 is past it"); return }
        #expect(broker.gpioLineInfo(chip: "gpiochip0", offset: 18) == .failure(.denied("gpiochip0 line 18 is not declared in capabilities.gpio")))
        guard case .failure(.failed(_, ENOENT)) = broker.gpioLineInfo(chip: "gpiochip0", offset: 27) else { Issue.record("line 27 was not looked up"); return }
        #expect(audit.entries().isEmpty)
    }
}

extension Result where Failure == HardwareBroker.Refusal {
    var isDenied: Bool {
        if case .failure(.denied) = self { return true }
        return false
    }
}
