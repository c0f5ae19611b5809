import Foundation
import Testing
@testable import PluginHost

/// The example modules of Examples/ (a C one and a Swift one using IoTSDK), as SwiftPM builds
/// them (dynamic library products), packed with their module.json, installed and committed by the
/// update engine, which runs them for their health check. Scripts/test.sh builds them first and
/// sets PLUGIN_HOST_REQUIRE_EXAMPLES=1, which makes a missing library a failure.
@Suite("Example modules")
struct ExampleModulesTests {
    static let required = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_EXAMPLES"] == "1"

    /// `lib<name>.so` next to the built executables, if SwiftPM built it.
    static func library(_ name: String) -> String? {
        guard let bin = Tool.pluginHost?.deletingLastPathComponent() else { return nil }
        let path = bin.appendingPathComponent("lib\(name).so").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static var examplesBuilt: Bool { library("ExampleModuleC") != nil && library("ExampleModuleSwift") != nil }

    /// Lays out Examples/<target>/module.json and the built library as a module directory and packs it.
    static func pack(_ target: String, _ f: UpdateFixture) throws -> (image: String, manifest: ModuleManifest) {
        guard let library = Self.library(target) else {
            throw ModuleError(.io, "lib\(target).so was not built: swift build --product \(target)")
        }
        let source = TestModule.repositoryRoot + "/Examples/\(target)/module.json"
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
          .enabled(if: examplesBuilt || required, "the examples are not built (swift build --product ExampleModuleC)"))
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
          .enabled(if: examplesBuilt || required, "the examples are not built (swift build --product ExampleModuleSwift)"))
    func swiftExample() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (image, manifest) = try Self.pack("ExampleModuleSwift", f)
        let report = try f.engine().install(imageAt: image)
        #expect(report.record.result == .committed)
        let data = ModulePaths(stateDirectory: f.state, id: manifest.id).data
        #expect(FileManager.default.fileExists(atPath: data + "/thermostat.db"), "the install hook made no database")
    }
}
