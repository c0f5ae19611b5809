import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// The example modules of Examples/ (a C one and a Swift one using IoTSDK), as SwiftPM builds
/// them (dynamic library products), packed with their module.json, installed and committed by the
/// update engine, which runs them for their health check. Whether they are built, and whether
/// they must be (PLUGIN_HOST_REQUIRE_EXAMPLES=1), is TestSupport's `ExampleModules`.
@Suite("Example modules")
struct ExampleModulesTests {
    /// Lays out Examples/<target>/module.json and the built library as a module directory and packs it.
    static func pack(_ target: String, _ f: UpdateFixture) throws -> (image: String, manifest: ModuleManifest) {
        guard let library = ExampleModules.library(target) else {
            throw ModuleError(.io, "lib\(target).so was not built: swift build --product \(target)")
        }
        let source = Repository.root + "/Examples/\(target)/module.json"
        let manifest = try ModuleManifest.decode(Data(contentsOf: URL(fileURLWithPath: source)))
        let directory = f.base.path("example-\(target)")
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: directory + "/module.json")
        try FileManager.default.copyItem(atPath: library, toPath: directory + "/" + manifest.library.path)
        let layout = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: directory)
        try ImagePacker.write(layout, to: f.base.path("image-\(target)"))
        return (f.base.path("image-\(target)"), manifest)
    }

    @Test("the C example installs, runs its health check and commits",
          .enabled(if: ExampleModules.built || ExampleModules.required, "the examples are not built (swift build --product ExampleModuleC)"))
    func cExample() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (image, manifest) = try Self.pack("ExampleModuleC", f)
        let report = try f.engine().install(imageAt: image)
        #expect(report.record.result == .committed)
        let status = try UpdateEngine.status(id: manifest.id, stateDirectory: f.state)
        #expect(status.version == manifest.version)
        let moduleLog = try FileManager.default.contentsOfDirectory(atPath: report.record.logDirectory).first { $0.hasSuffix("module.log") }
        let logName = try #require(moduleLog)
        let output = try String(contentsOfFile: report.record.logDirectory + "/" + logName, encoding: .utf8)
        #expect(output.contains("example module 1.0.0 started"), "\(output)")
    }

    @Test("the Swift example (IoTSDK, a database made by its install hook) installs and commits",
          .enabled(if: ExampleModules.built || ExampleModules.required, "the examples are not built (swift build --product ExampleModuleSwift)"))
    func swiftExample() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (image, manifest) = try Self.pack("ExampleModuleSwift", f)
        let report = try f.engine().install(imageAt: image)
        #expect(report.record.result == .committed)
        let data = ModulePaths(stateDirectory: f.state, id: manifest.id).data
        #expect(FileManager.default.fileExists(atPath: data + "/thermostat.db"), "the install hook made no database")
    }

    @Test("the Swift example's IoTSDK goes through the host: GPIO.linux() is mediated, I2C is brokered, an undeclared address is refused and audited",
          .enabled(if: ExampleModules.built || ExampleModules.required, "the examples are not built (swift build --product ExampleModuleSwift)"))
    func swiftExampleHardware() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (_, manifest) = try Self.pack("ExampleModuleSwift", f)
        for directory in ["hw-state", "hw-data"] {
            try FileManager.default.createDirectory(atPath: f.base.path(directory), withIntermediateDirectories: true)
        }
        let executable = try #require(TestModule.runnerExecutable, "plugin-host-runner was not built next to the tests")
        // Unsandboxed: the debug build links the Swift runtime from the toolchain, which the
        // sandbox's root does not hold. What is tested is the SDK's switch and the broker.
        let runner = ChildProcessRunner(executable: executable, stateDirectory: f.base.path("hw-state"))
        let instance = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: f.base.path("example-ExampleModuleSwift"),
                                                      dataDirectory: f.base.path("hw-data")))
        defer { _ = instance.stop(timeout: .seconds(5)) }
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready, "\(instance.output)")

        let report = try instance.call(command: "hardware", arguments: [], manifest: manifest, timeout: .seconds(20))
        guard case let .string(text) = report else { Issue.record("hardware returned \(report)"); return }
        #expect(text.hasPrefix("gpio: mediated\n"), "\(text)")
        // This machine has no GPIO and no I2C: the declared requests get as far as the kernel,
        // and its refusal comes back through the host into IoTSDK's errors.
        if !FileManager.default.fileExists(atPath: "/dev/gpiochip0") {
            #expect(text.contains("heater: unavailable (BCM 17: no Raspberry Pi GPIO chip found"), "\(text)")
        }
        if !FileManager.default.fileExists(atPath: "/dev/i2c-1") {
            #expect(text.contains("sensor: unavailable (") && text.contains("(the plugin host: cannot open /dev/i2c-1: No such file or directory)"), "\(text)")
        }
        #expect(instance.output.contains("declared in the manifest is not available: cannot open /dev/gpiochip0") || FileManager.default.fileExists(atPath: "/dev/gpiochip0"),
                "\(instance.output)")

        // An address module.json does not declare: EACCES in the module, a denial in the audit log.
        let undeclared = try instance.call(command: "read_register", arguments: [.uint32(0x77), .uint32(0xD0)], manifest: manifest, timeout: .seconds(20))
        #expect(undeclared == .int32(-13))
        let denial = AuditLog(stateDirectory: f.base.path("hw-state")).entries().last
        #expect(denial?.module == manifest.id && denial?.decision == "denied" && denial?.request == "i2c-1 0x77 write 1 read 1", "\(String(describing: denial))")
    }
}
