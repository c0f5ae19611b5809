import CIoTModule
import Glibc
import Synchronization
import Testing
@testable import IoTSDK

/// `ModuleHooks.call` driven through a real `iotsdk_host` table, as plugin-host-runner fills it.
@Suite("Module update hooks (Swift side of the module ABI)")
struct ModuleHooksTests {
    static let logged = Mutex<[String]>([])
    static let readyCalls = Atomic<Int>(0)

    struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }

    final class Hooks: ModuleUpdateHooks {
        let ran = Mutex<[String]>([])
        func install(_ host: ModuleHost) throws {
            ran.withLock { $0.append("install \(host.moduleID) \(host.moduleVersion) \(host.dataDirectory)") }
        }
        func health(_ host: ModuleHost) throws { throw Failure() }
    }

    /// Calls `body` with a host table for `step` whose callbacks record into the statics above.
    func withTable<T>(step: String, _ body: (UnsafePointer<iotsdk_host>) -> T) -> T {
        "com.example.swiftmodule".withCString { id in
            "2.1.0".withCString { version in
                "/modules/x".withCString { dir in
                    "/data/x".withCString { data in
                        step.withCString { stepText in
                            var table = iotsdk_host()
                            table.abi = UInt32(IOTSDK_MODULE_ABI)
                            table.size = UInt32(MemoryLayout<iotsdk_host>.size)
                            table.module_id = id
                            table.module_version = version
                            table.module_dir = dir
                            table.data_dir = data
                            table.step = stepText
                            table.ready = { _ in _ = ModuleHooksTests.readyCalls.add(1, ordering: .relaxed) }
                            table.heartbeat = { _ in }
                            table.log = { _, level, message in
                                let text = message.map { String(cString: $0) } ?? ""
                                ModuleHooksTests.logged.withLock { $0.append("\(level) \(text)") }
                            }
                            table.should_stop = { _ in 1 }
                            return withUnsafePointer(to: &table) { body($0) }
                        }
                    }
                }
            }
        }
    }

    @Test("the hook for the host's step runs; other steps succeed by default; errors are logged and fail")
    func dispatch() {
        let hooks = Hooks()
        #expect(withTable(step: "install") { ModuleHooks.call(hooks, $0) } == 0)
        #expect(hooks.ran.withLock { $0 } == ["install com.example.swiftmodule 2.1.0 /data/x"])
        #expect(withTable(step: "commit") { ModuleHooks.call(hooks, $0) } == 0)
        #expect(withTable(step: "health") { ModuleHooks.call(hooks, $0) } == 1)
        #expect(Self.logged.withLock { $0 }.contains("3 health hook failed: disk full"))
        #expect(withTable(step: "defrost") { ModuleHooks.call(hooks, $0) } == 3)
        #expect(Self.logged.withLock { $0 }.contains { $0.contains("does not know the update step 'defrost'") })
        #expect(ModuleHooks.call(hooks, nil) == 2)
    }

    @Test("ModuleHost reads the table and calls its callbacks")
    func hostTable() {
        withTable(step: "run") { table in
            let host = ModuleHost(table)
            #expect(host.moduleDirectory == "/modules/x")
            #expect(host.step == "run")
            #expect(host.shouldStop)
            let before = Self.readyCalls.load(ordering: .relaxed)
            host.ready()
            #expect(Self.readyCalls.load(ordering: .relaxed) == before + 1)
        }
    }

    nonisolated(unsafe) static let reason: UnsafePointer<CChar> = UnsafePointer(strdup("gpiochip0 line 18 output is not declared")!)

    @Test("ModuleHost's hardware calls: the descriptor, the errno and the host's reason, reads filled in place; an older table has none")
    func hardwareCalls() {
        withTable(step: "run") { original in
            var table = original.pointee
            table.gpio_request = { _, chip, line, output, _ in
                chip.map { String(cString: $0) } == "gpiochip0" && line == 17 && output == 1 ? 7 : -13
            }
            table.i2c_transfer = { _, bus, address, count, segments in
                guard bus == 1, address == 0x76, count == 2, let segments, segments[0].read == 0, segments[1].read == 1 else { return -13 }
                for i in 0..<Int(segments[1].length) { segments[1].data![i] = segments[0].data![0] &+ UInt8(i) }
                return 0
            }
            table.last_error = { _ in ModuleHooksTests.reason }
            withUnsafePointer(to: &table) { pointer in
                let host = ModuleHost(pointer)
                #expect(host.hasHardwareCalls)
                #expect((try? host.requestGPIOLine(chip: "gpiochip0", line: 17, output: true)) == 7)
                #expect(throws: ModuleHost.HostRequestError(code: 13, reason: "gpiochip0 line 18 output is not declared")) {
                    try host.requestGPIOLine(chip: "gpiochip0", line: 18, output: true)
                }
                #expect((try? host.i2cTransfer(bus: 1, address: 0x76, [.write([0xD0]), .read(count: 3)])) == [[0xD0, 0xD1, 0xD2]])
                let denied = #expect(throws: ModuleHost.HostRequestError.self) { try host.i2cTransfer(bus: 1, address: 0x50, [.read(count: 1)]) }
                #expect(denied?.isDenied == true)
            }
            // A host of the first ABI 1 release: the table ends at should_stop.
            table.size = UInt32(MemoryLayout<iotsdk_host>.offset(of: \iotsdk_host.gpio_request)!)
            withUnsafePointer(to: &table) { pointer in
                let host = ModuleHost(pointer)
                #expect(!host.hasHardwareCalls)
                #expect(throws: ModuleHost.HostRequestError.self) { try host.requestGPIOLine(chip: "gpiochip0", line: 17, output: true) }
            }
        }
    }
}
