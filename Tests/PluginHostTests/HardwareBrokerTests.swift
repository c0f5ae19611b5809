import Foundation
import ModuleProtocol
import Testing
@testable import PluginHost

/// The broker's decisions, which need no hardware: undeclared lines, directions, buses and
/// addresses are denied and audited. (Grants on a real kernel: Sources/iotsdk-lab/BrokerLabTests.swift, in the QEMU lab.)
@Suite("Hardware broker")
struct HardwareBrokerTests {
    static let capabilities = ModuleManifest.Capabilities(
        gpio: [.init(chip: "gpiochip0", line: 17, direction: .output), .init(chip: "gpiochip0", line: 27, direction: .input)],
        i2c: [.init(bus: 1, addresses: [0x76])])

    @Test("undeclared GPIO lines, wrong directions, buses and addresses are denied, with an audit line each")
    func denials() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try FileManager.default.createDirectory(atPath: fixture.path("state"), withIntermediateDirectories: true)
        let audit = AuditLog(stateDirectory: fixture.path("state"))
        // An empty /dev: a declared request that got past the checks would fail to open, not be denied.
        let broker = HardwareBroker(moduleID: "com.example.x", capabilities: Self.capabilities, audit: audit, devRoot: fixture.path("dev"))

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
}

extension Result where Failure == HardwareBroker.Refusal {
    var isDenied: Bool {
        if case .failure(.denied) = self { return true }
        return false
    }
}
