import Foundation
import Synchronization

/// Runs the built `plugin-host`, `sdk-demo` and other tools as child processes.
public enum Tool {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// The signal that ended the process, if one did (`status` is then 128 + signal).
        public var signal: Int32?

        public init(status: Int32, stdout: String, stderr: String, signal: Int32? = nil) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.signal = signal
        }
    }

    /// An executable SwiftPM built next to the test bundle (a test target that runs one lists it
    /// among its dependencies, so that `swift build --build-tests` builds it).
    public static func built(_ name: String) -> URL? {
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argv0.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        return candidates.map { $0.appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    public static var pluginHost: URL? { built("plugin-host") }

    /// The runner executable as built; PluginHostTests' `TestModule.runnerExecutable` adds the
    /// host's own search (`ChildProcessRunner.locate()`) for when it is not.
    public static var pluginHostRunner: URL? { built("plugin-host-runner") }

    /// `name` on PATH, or nil.
    public static func onPath(_ name: String) -> URL? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs a tool to its end; `environment` entries are added to (or, when nil, removed from)
    /// this process's environment.
    public static func run(_ executable: URL, _ arguments: [String], environment changes: [String: String?] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in changes { environment[key] = value }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return Output(status: signal.map { 128 + $0 } ?? process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), signal: signal)
    }
}

/// A tool running in the background whose output is read as it comes.
public final class RunningTool {
    /// What the pipes' handlers have read so far, and how many pipes are still open.
    private final class Collected: Sendable {
        let state = Mutex<(stdout: String, stderr: String, open: Int)>(("", "", 2))
    }

    private let process = Process()
    private let collected = Collected()

    public init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        for (pipe, isStdout) in [(out, true), (err, false)] {
            pipe.fileHandleForReading.readabilityHandler = { [collected] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                collected.state.withLock { state in
                    let text = String(decoding: data, as: UTF8.self)
                    if data.isEmpty { state.open -= 1 } else if isStdout { state.stdout += text } else { state.stderr += text }
                }
            }
        }
        try process.run()
    }

    public var stdout: String { collected.state.withLock { $0.stdout } }

    /// Whether `text` appeared on stdout within `seconds`.
    public func wait(for text: String, seconds: Double) -> Bool {
        waitUntil(seconds: seconds) { stdout.contains(text) }
    }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit and the rest of the output.
    public func finish() -> Tool.Output {
        process.waitUntilExit()
        _ = waitUntil(seconds: 10) { collected.state.withLock { $0.open == 0 } }
        let status = process.terminationStatus
        return collected.state.withLock { Tool.Output(status: status, stdout: $0.stdout, stderr: $0.stderr) }
    }
}

/// Waits until `condition` holds or `seconds` pass, polling every 20 ms; returns whether it held.
/// It blocks its thread: the test targets that use it run apart from the timing-sensitive async
/// tests (Scripts/test.sh).
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
}
