import CIoTLinux
import CIoTModule
import Foundation
import Glibc
import Synchronization
import Testing
@testable import IoTSDK

/// IoTSDK inside a plugin-host runner: `GPIO.linux()` and `LinuxI2CBus(bus:)` go through the host
/// table the runner attaches. The table here plays the host: one chip with two declared lines,
/// and an I2C device at 0x76 on bus 1. The real host behind the real runner is tested in
/// PluginHostTests and, against gpio-sim and i2c-stub, in the lab.
@Suite("IoTSDK through the plugin host (mediated backends)", .serialized)
struct MediatedBackendTests {
    /// What the fake host saw and holds.
    struct HostState {
        var requests: [(chip: String, offsets: [UInt32], flags: [UInt64], outputs: UInt64)] = []
        var registers = [UInt8](repeating: 0, count: 256)
        var transfers: [String] = []
    }
    static let state = Mutex(HostState())
    static let declared: [UInt32: String] = [17: "GPIO17", 27: "GPIO27"]
    nonisolated(unsafe) static let reason: UnsafePointer<CChar> = UnsafePointer(strdup("not declared in capabilities")!)

    static func fill<T>(_ text: String, into tuple: inout T) {
        withUnsafeMutableBytes(of: &tuple) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (i, byte) in text.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
    }

    /// Runs `body` with a host table attached as the runner attaches it, detached afterwards.
    func attached<T>(_ body: (ModuleHost) throws -> T) rethrows -> T {
        var table = iotsdk_host()
        table.abi = UInt32(IOTSDK_MODULE_ABI)
        table.size = UInt32(MemoryLayout<iotsdk_host>.size)
        table.last_error = { _ in MediatedBackendTests.reason }
        table.gpio_chip_info = { _, index, info in
            guard index == 0 else { return -ERANGE }
            MediatedBackendTests.fill("gpiochip0", into: &info!.pointee.name)
            MediatedBackendTests.fill("pinctrl-bcm2711", into: &info!.pointee.label)
            info!.pointee.lines = 58
            return 0
        }
        table.gpio_line_info = { _, chip, offset, info in
            guard String(cString: chip!) == "gpiochip0", let name = MediatedBackendTests.declared[offset] else { return -EACCES }
            info!.pointee = ciot_gpio_v2_line_info()
            info!.pointee.offset = offset
            info!.pointee.flags = CIOT_GPIO_V2_LINE_FLAG_INPUT
            MediatedBackendTests.fill(name, into: &info!.pointee.name)
            return 0
        }
        table.gpio_request_lines = { _, chip, count, offsets, config in
            let list = Array(UnsafeBufferPointer(start: offsets, count: Int(count)))
            guard list.allSatisfy({ MediatedBackendTests.declared[$0] != nil }) else { return -EACCES }
            let flags = (0..<count).map { ciot_gpio_v2_config_line_flags(config, $0) }
            var outputs: UInt64 = 0
            for (i, f) in flags.enumerated() where f & CIOT_GPIO_V2_LINE_FLAG_OUTPUT != 0 { outputs |= 1 << UInt64(i) }
            MediatedBackendTests.state.withLock { $0.requests.append((String(cString: chip!), list, flags, outputs)) }
            return open("/dev/null", O_RDONLY | O_CLOEXEC)   // stands in for the line request
        }
        table.i2c_transfer = { _, bus, address, count, segments in
            let list = UnsafeBufferPointer(start: segments, count: Int(count))
            let shape = list.map { "\($0.read != 0 ? "r" : "w")\($0.length)" }.joined(separator: " ")
            MediatedBackendTests.state.withLock { $0.transfers.append("\(bus) 0x\(String(address, radix: 16)) \(shape)") }
            guard bus == 1, address == 0x76 || address == 0x77 else { return -EACCES }
            guard address == 0x76 else { return -ENXIO }
            return MediatedBackendTests.state.withLock { state in
                // A register file: [write r], [write r, v...], [write r, read n], [read n] from 0.
                var pointer = 0
                for segment in list {
                    if segment.read == 0 {
                        guard segment.length > 0 else { continue }
                        pointer = Int(segment.data![0])
                        for i in 1..<Int(segment.length) { state.registers[(pointer + i - 1) & 0xFF] = segment.data![i] }
                    } else {
                        for i in 0..<Int(segment.length) { segment.data![i] = state.registers[(pointer + i) & 0xFF] }
                    }
                }
                return 0
            }
        }
        return try withUnsafePointer(to: &table) { pointer in
            iotsdkSDKAttach(pointer)
            defer { iotsdkSDKAttach(nil) }
            return try body(ModuleHost.current!)
        }
    }

    @Test("GPIO.linux() picks the mediated backend inside a runner, and only there")
    func automaticChoice() throws {
        try attached { _ in
            let gpio = try GPIO.linux()
            #expect(gpio.backend.kind == .mediated)
            // A simulated tree is never mediated: it asked for those paths.
            #expect(throws: HardwareError.self) { try GPIO.linux(paths: LinuxPaths(sysfs: "/nonexistent/sys", dev: "/nonexistent/dev")) }
        }
        #expect(ModuleHost.current?.table == nil)
    }

    @Test("chips and lines are the declared ones; BCM numbers resolve through the board map")
    func discovery() throws {
        try attached { _ in
            let gpio = try GPIO.linux()
            let chips = try gpio.chips()
            #expect(chips.map(\.description) == ["gpiochip0 [pinctrl-bcm2711] (58 lines)"])
            #expect(try gpio.lines(of: chips[0]).map(\.offset) == [17, 27])
            #expect(try gpio.lineInfo(.bcm(17)).name == "GPIO17")
            #expect(try gpio.resolve(.named("GPIO27")).offset == 27)
            let error = #expect(throws: HardwareError.self) { try gpio.lineInfo(.chipName("gpiochip0", offset: 4)) }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message.contains("capabilities.gpio") == true)
        }
    }

    @Test("a request carries the kernel line config the character-device backend would send")
    func requests() throws {
        try attached { _ in
            let gpio = try GPIO.linux()
            Self.state.withLock { $0.requests = [] }
            let request = try gpio.request([
                (.bcm(17), .output(initial: .active)),
                (.bcm(27), .input(bias: .pullUp, edge: .both, debounce: .milliseconds(5))),
            ], consumer: "thermostat")
            defer { request.release() }
            let seen = try #require(Self.state.withLock { $0.requests }.first)
            #expect(seen.chip == "gpiochip0")
            #expect(seen.offsets == [17, 27])
            #expect(seen.flags[0] == CIOT_GPIO_V2_LINE_FLAG_OUTPUT)
            #expect(seen.flags[1] == CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_BIAS_PULL_UP
                        | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING)
            #expect(seen.outputs == 0b01)

            let denied = #expect(throws: HardwareError.self) { try gpio.output(.chipName("gpiochip0", offset: 4)) }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message.contains("Declare the line in the module manifest's capabilities.gpio") == true)
        }
    }

    @Test("LinuxI2CBus(bus:) goes through the host: transfers and SMBus calls as transfers, refusals as errors")
    func i2c() throws {
        try attached { _ in
            let bus = try LinuxI2CBus(bus: 1)
            #expect(bus.name == "i2c-1 (through the plugin host)")
            Self.state.withLock { $0.transfers = [] }
            try bus.smbusWriteByteData(0x76, command: 0xF4, 0x27)
            #expect(try bus.smbusReadByteData(0x76, command: 0xF4) == 0x27)
            try bus.smbusWriteWordData(0x76, command: 0x10, 0xBEEF)
            #expect(try bus.smbusReadWordData(0x76, command: 0x10) == 0xBEEF)
            try bus.smbusWriteI2CBlockData(0x76, command: 0x20, [1, 2, 3, 4])
            #expect(try bus.smbusReadI2CBlockData(0x76, command: 0x20, count: 4) == [1, 2, 3, 4])
            #expect(try bus.device(0x76).readRegisters(0x21, count: 2) == [2, 3])
            #expect(Self.state.withLock { $0.transfers }.prefix(6) == [
                "1 0x76 w2", "1 0x76 w1 r1", "1 0x76 w3", "1 0x76 w1 r2", "1 0x76 w5", "1 0x76 w1 r4",
            ])
            #expect(try bus.probe(0x76, using: .quickWrite))
            #expect(try !bus.probe(0x77, using: .readByte))
            let nack = #expect(throws: HardwareError.self) { try bus.smbusReadByteData(0x77, command: 0) }
            #expect(nack?.code == .noAcknowledge)
            let denied = #expect(throws: HardwareError.self) { try bus.smbusReadByteData(0x50, command: 0) }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message.contains("capabilities.i2c") == true)
            bus.close()
            #expect(throws: HardwareError.self) { try bus.smbusReadByteData(0x76, command: 0) }
        }
    }

    /// Fills a table of 1 KiB rows until the database refuses; the number of rows stored.
    func fill(_ database: Database) async throws -> Int {
        try await database.write { try $0.execute("CREATE TABLE IF NOT EXISTS blobs (b BLOB)") }
        var rows = 0
        while rows < 100_000 {
            do {
                try await database.write { try $0.execute("INSERT INTO blobs VALUES (zeroblob(1024))") }
                rows += 1
            } catch let error as StorageError where error.code == .diskFull {
                return rows
            }
        }
        return rows
    }

    @Test("inside a runner, a database in the data directory is held to the module's storage quota; elsewhere it is not")
    func storageQuota() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("quota-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: base + "/data", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let quota: UInt64 = 256 << 10
        let dataDirectory = strdup(base)!
        defer { free(dataDirectory) }
        let table = UnsafeMutablePointer<iotsdk_host>.allocate(capacity: 1)
        table.initialize(to: iotsdk_host())
        defer { table.deallocate() }
        table.pointee.abi = UInt32(IOTSDK_MODULE_ABI)
        table.pointee.size = UInt32(MemoryLayout<iotsdk_host>.size)
        table.pointee.data_dir = UnsafePointer(dataDirectory)
        table.pointee.storage_quota_bytes = quota
        iotsdkSDKAttach(table)
        let stored: Int
        do {
            defer { iotsdkSDKAttach(nil) }
            #expect(ModuleHost.current?.storageQuotaBytes == quota)
            // data_dir is the base; the module's database goes in a folder of it.
            let inside = try Database(path: base + "/data/module.db")
            #expect(inside.options.maximumBytes == Int64(quota))
            let outside = try Database(path: FileManager.default.temporaryDirectory.path + "/quota-outside-\(getpid()).db")
            defer { try? FileManager.default.removeItem(atPath: outside.path) }
            #expect(outside.options.maximumBytes == nil)
            stored = try await fill(inside)
        }
        // 256 KiB of 4 KiB pages, some for the schema and the SDK's own tables: 1 KiB rows, a few per page.
        #expect(stored > 100 && stored < 256, "\(stored) rows")
        // Reopened outside the runner, no limit applies: 300 more rows fit.
        let reopened = try Database(path: base + "/data/module.db")
        #expect(reopened.options.maximumBytes == nil)
        for _ in 0 ..< 300 {
            try await reopened.write { try $0.execute("INSERT INTO blobs VALUES (zeroblob(1024))") }
        }
    }

    @Test("Options.maximumBytes caps a database without a host")
    func maximumBytes() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/maximum-\(getpid())-\(UInt32.random(in: 0 ... .max)).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let database = try Database(path: path, options: Database.Options(maximumBytes: 128 << 10))
        let rows = try await fill(database)
        #expect(rows > 20 && rows < 128, "\(rows) rows")
        let error = await #expect(throws: StorageError.self) {
            try await database.write { try $0.execute("INSERT INTO blobs VALUES (zeroblob(1024))") }
        }
        #expect(error?.message.contains("size limit") == true)
    }
}
