import Foundation

/// The repository these tests are built from, and what its build put next to them.
public enum Repository {
    /// The repository's root: this file is Tests/TestSupport/Repository.swift.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// The example modules of Examples/, as SwiftPM builds them (dynamic library products).
/// Scripts/test.sh builds them first and sets PLUGIN_HOST_REQUIRE_EXAMPLES=1, which makes a
/// missing library a failure instead of a skipped test.
public enum ExampleModules {
    public static let required = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_EXAMPLES"] == "1"

    /// `lib<name>.so` next to the built executables, if SwiftPM built it.
    public static func library(_ name: String) -> String? {
        guard let bin = Tool.pluginHost?.deletingLastPathComponent() else { return nil }
        let path = bin.appendingPathComponent("lib\(name).so").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Whether both examples (ExampleModuleC, ExampleModuleSwift) were built.
    public static var built: Bool { library("ExampleModuleC") != nil && library("ExampleModuleSwift") != nil }

    /// The C example built for wasm32 by Scripts/build-wasm-example.sh, if it was.
    public static var wasm: String? { wasm("ExampleModuleC") }

    /// `.build/wasm/<name>.wasm`, built by Scripts/build-wasm-example.sh (ExampleModuleC,
    /// ExampleModuleSwiftWasm), if it was.
    public static func wasm(_ name: String) -> String? {
        let path = Repository.root + "/.build/wasm/\(name).wasm"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// PLUGIN_HOST_REQUIRE_WASM=1 (Scripts/test.sh, after building it): a missing wasm example fails the tests.
    public static let wasmRequired = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_WASM"] == "1"
}

/// A fresh directory under the temporary directory, for one test.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    /// `<temporary directory>/<label>-<UUID>`, created.
    public init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Removes the directory and everything in it.
    public func cleanUp() { try? FileManager.default.removeItem(at: url) }
}
