import Foundation
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime

/// The C test module (Tests/Fixtures/modules/testmodule.c): compiled once per test run, laid out
/// as a module directory whose `behavior` file chooses what start, stop and each hook do.
enum TestModule {
    /// Update steps, in the order the host runs them.
    static let hookNames = ["verify", "install", "start", "health", "commit", "rollback", "failure"]
    /// The exported function of each step.
    static let hookSymbols = [
        "verify": "module_verify", "install": "module_install", "start": "module_start_hook", "health": "module_health",
        "commit": "module_commit", "rollback": "module_rollback", "failure": "module_failure",
    ]
    static let libraryPath = "lib/libtestmodule.so"

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - Building

    static var sourceDirectory: String { Repository.root + "/Tests/Fixtures/modules" }
    /// Every .c file of the test module (testmodule.c and the others beside it), sorted.
    static var sourcePaths: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sourceDirectory)) ?? []).filter { $0.hasSuffix(".c") }.sorted().map { sourceDirectory + "/" + $0 }
    }
    static var includeDirectory: String { Repository.root + "/Sources/CIoTModule/include" }

    /// Compiled at most once per process (a static let is initialized exactly once, thread-safely).
    private static let compiled: Result<String, any Error> = Result { try compile() }

    /// The path of the compiled library. Compiles on first use; the result is cached under the
    /// temporary directory by a hash of the source and the ABI header, so later runs reuse it.
    static func build() throws -> String {
        try compiled.get()
    }

    private static func compile() throws -> String {
        var source = Data()
        for path in sourcePaths { source += Data(path.utf8) + (try Data(contentsOf: URL(fileURLWithPath: path))) }
        let header = try Data(contentsOf: URL(fileURLWithPath: includeDirectory + "/iotsdk_module.h"))
        // FNV-1a: stable across processes, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in source + [0] + header {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("iotsdk-testmodule-" + String(hash, radix: 16)).path
        let library = directory + "/libtestmodule.so"
        if FileManager.default.fileExists(atPath: library) { return library }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Compile to a name of this process, then rename: concurrent test runs never see half a file.
        let partial = library + ".\(getpid()).partial"
        let compiler = ProcessInfo.processInfo.environment["CC"].flatMap { $0.isEmpty ? nil : $0 } ?? "cc"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [compiler, "-shared", "-fPIC", "-O1", "-Wall", "-I", includeDirectory, "-o", partial] + sourcePaths + ["-lsqlite3", "-lpthread"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = errors
        do { try process.run() } catch {
            throw BuildError(description: "cannot run the C compiler '\(compiler)': \(error); install a C compiler (apt-get install gcc) and libsqlite3-dev")
        }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw BuildError(description: "compiling \(sourcePaths.joined(separator: " ")) failed (status \(process.terminationStatus)); it needs a C compiler and libsqlite3-dev:\n\(message)")
        }
        guard rename(partial, library) == 0 else {
            throw BuildError(description: "cannot rename \(partial) to \(library): \(String(cString: strerror(errno)))")
        }
        return library
    }

    // MARK: - Module directories and manifests

    /// Lays out a module directory at `path`: `lib/libtestmodule.so` (a copy of the built
    /// library), `behavior` (see testmodule.c) and, if given, `migration` (`schema 1`, `schema 2`).
    /// May be called again on the same directory to change them.
    @discardableResult
    static func directory(at path: String, behavior: String = "", migration: String? = nil) throws -> String {
        let manager = FileManager.default
        try manager.createDirectory(atPath: path + "/lib", withIntermediateDirectories: true)
        let library = path + "/" + libraryPath
        if manager.fileExists(atPath: library) { try manager.removeItem(atPath: library) }
        try manager.copyItem(atPath: try build(), toPath: library)
        try Data((behavior + "\n").utf8).write(to: URL(fileURLWithPath: path + "/behavior"))
        let migrationFile = path + "/migration"
        if let migration {
            try Data((migration + "\n").utf8).write(to: URL(fileURLWithPath: migrationFile))
        } else if manager.fileExists(atPath: migrationFile) {
            try manager.removeItem(atPath: migrationFile)
        }
        return path
    }

    /// The hook of `step` with its symbol in the test module.
    static func hook(_ step: String, timeout: Double = 10) -> ModuleManifest.Hook {
        ModuleManifest.Hook(symbol: hookSymbols[step] ?? "module_\(step)", timeoutSeconds: timeout)
    }

    /// The hooks `steps` (all seven by default), each with `timeout`.
    static func hooks(_ steps: [String] = hookNames, timeout: Double = 10) -> ModuleManifest.Hooks {
        let has = { (step: String) in steps.contains(step) ? hook(step, timeout: timeout) : nil }
        return ModuleManifest.Hooks(verify: has("verify"), install: has("install"), start: has("start"), health: has("health"),
                                    commit: has("commit"), rollback: has("rollback"), failure: has("failure"))
    }

    static let defaultHealth = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 5, heartbeatIntervalSeconds: 1, stabilityWindowSeconds: 1,
                                                           maxRestarts: 3, restartWindowSeconds: 60)

    /// A valid manifest for the test module.
    static func manifest(id: String = "com.example.testmodule", version: String = "1.0.0", hooks: ModuleManifest.Hooks = TestModule.hooks(),
                         health: ModuleManifest.HealthPolicy = TestModule.defaultHealth) -> ModuleManifest {
        guard let semanticVersion = SemanticVersion(version) else { preconditionFailure("not a semantic version: \(version)") }
        let manifest = ModuleManifest(
            id: id, version: semanticVersion, abi: 1,
            library: .init(path: libraryPath, entryPoints: .init(start: "module_start", stop: "module_stop")),
            capabilities: .init(storageQuotaBytes: 1 << 20),
            resources: .init(memoryBytes: 32 << 20, cpuPercent: 50, maxProcesses: 16, maxOpenFiles: 64),
            hooks: hooks, health: health)
        do { try manifest.validate() } catch { preconditionFailure("TestModule.manifest is invalid: \(error)") }
        return manifest
    }

    // MARK: - The runner

    /// `plugin-host-runner`, found like `Tool.pluginHost` finds `plugin-host`: next to the test
    /// bundle that SwiftPM built; else where `ChildProcessRunner.locate()` finds it.
    static var runnerExecutable: String? {
        Tool.pluginHostRunner?.path ?? ChildProcessRunner.locate()
    }

    /// A fresh directory under the temporary directory.
    static func temporaryDirectory(_ label: String = "module") throws -> String {
        try TemporaryDirectory("PluginHostTests-\(label)").path
    }
}
