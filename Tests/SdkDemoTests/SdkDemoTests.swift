import Foundation
import Testing
import TestSupport
import PluginHostRuntime

/// `sdk-demo` as built, on the simulated board: its JSON lines, plain lines, the terminal
/// dashboard, signals, bad options, the history command, and the demo module in a real
/// `plugin-host run`.
@Suite("sdk-demo")
struct SdkDemoTests {
    static func demo() throws -> URL { try #require(Tool.built("sdk-demo"), "sdk-demo was not built next to the tests") }

    /// The options every run here shares: the simulated board, no plugin host unless asked.
    static let simulated = ["--backend", "simulated"]

    /// Each line of `text` parsed as a JSON object (a line that is not one fails the test).
    static func objects(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if object == nil { Issue.record("not a JSON object: \(line)") }
            return object
        }
    }

    @Test("--json: readings with units, the LED following the threshold at each reading, button presses, and a history that agrees with the readings")
    func jsonLines() throws {
        let f = try TemporaryDirectory("SdkDemoTests")
        defer { f.cleanUp() }
        // The simulated air crosses 25 °C upwards at 1.5 s and downwards at 7.5 s.
        let run = try Tool.run(try Self.demo(), Self.simulated + ["--json", "--duration", "9", "--read-interval", "0.5", "--threshold", "temperature>25",
                                                                 "--database", f.path("demo.sqlite"), "--no-module"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = Self.objects(run.stdout)
        let first = try #require(lines.first)
        #expect(first["type"] as? String == "start")
        #expect(first["simulated"] as? Bool == true)
        #expect((first["message"] as? String)?.contains("using the simulated board") == true, "\(first)")
        #expect(first["ledFollows"] as? String == "threshold")
        #expect(first["database"] as? String == f.path("demo.sqlite"))
        let last = try #require(lines.last)
        #expect(last["type"] as? String == "stop" && last["led"] as? String == "off" && last["reason"] as? String == "done", "\(last)")
        #expect(last["pinHigh"] as? Bool == false, "\(last)")
        // Not even the reading the end of the run cuts short is an error.
        #expect(!lines.contains { $0["type"] as? String == "error" }, "\(run.stdout)")

        // Readings: each quantity in its unit, with the text the driver prints.
        let readings = lines.filter { $0["type"] as? String == "reading" }
        let units = ["temperature": "°C", "pressure": "hPa", "humidity": "%RH"]
        var values: [String: [Double]] = [:]
        for reading in readings {
            let quantity = try #require(reading["quantity"] as? String)
            #expect(reading["sensor"] as? String == "bme280@1:0x76")
            #expect(reading["unit"] as? String == units[quantity], "\(reading)")
            #expect((reading["text"] as? String)?.hasSuffix(" " + (units[quantity] ?? "?")) == true, "\(reading)")
            values[quantity, default: []].append(try #require(reading["value"] as? Double))
        }
        #expect(Set(values.keys) == Set(units.keys))
        let temperatures = values["temperature"] ?? []
        #expect(temperatures.count >= 8, "\(temperatures)")
        #expect(temperatures.contains { $0 > 25.2 } && temperatures.contains { $0 < 24.8 }, "the simulated air did not cross the threshold: \(temperatures)")

        // After every temperature reading the LED is on exactly when it is above 25 °C, and it
        // changed both ways.
        var led: String?
        var expected: String?
        var changes: [String] = []
        for line in lines {
            switch line["type"] as? String {
            case "reading" where line["quantity"] as? String == "temperature":
                if let expected { #expect(led == expected, "after a reading the LED should be \(expected)") }
                expected = (line["value"] as? Double ?? 0) > 25 ? "on" : "off"
            case "led":
                led = line["state"] as? String
                changes.append(led ?? "?")
                #expect(line["pinHigh"] as? Bool == (led == "on"), "\(line)")
            default: break
            }
        }
        #expect(led == expected)
        #expect(changes.starts(with: ["off", "on", "off"]), "\(changes)")

        // The simulated finger presses at 2.15 s and every 2.3 s.
        let presses = lines.filter { $0["type"] as? String == "button" && $0["event"] as? String == "pressed" }
        #expect(presses.count >= 2, "\(presses)")
        #expect(presses.first?["presses"] as? Int == 1)

        // The last history (after the last reading) covers exactly the readings printed.
        let history = lines.suffix(4).filter { $0["type"] as? String == "history" }
        #expect(history.count == 3, "\(lines.suffix(4))")
        for summary in history {
            let quantity = try #require(summary["quantity"] as? String)
            let printed = values[quantity] ?? []
            #expect(summary["count"] as? Int == printed.count, "\(summary)")
            #expect(summary["windowSeconds"] as? Int == 3600)
            #expect(summary["unit"] as? String == units[quantity])
            let mean = printed.reduce(0, +) / Double(max(printed.count, 1))
            #expect(abs((summary["min"] as? Double ?? .nan) - (printed.min() ?? .nan)) < 1e-5, "\(summary)")
            #expect(abs((summary["max"] as? Double ?? .nan) - (printed.max() ?? .nan)) < 1e-5, "\(summary)")
            #expect(abs((summary["mean"] as? Double ?? .nan) - mean) < 1e-5, "\(summary) vs \(mean)")
        }

        // `sdk-demo history` reads the same database afterwards.
        let later = try Tool.run(try Self.demo(), ["history", "--database", f.path("demo.sqlite"), "--json"])
        #expect(later.status == 0, "\(later.stderr)")
        let stored = Self.objects(later.stdout)
        #expect(stored.map { $0["quantity"] as? String } == ["temperature", "pressure", "humidity"])
        #expect(stored.first?["count"] as? Int == temperatures.count)
        #expect(stored.first?["t"] == nil)
        let plain = try Tool.run(try Self.demo(), ["history", "--database", f.path("demo.sqlite")])
        #expect(plain.stdout.contains("history, last hour: bme280@1:0x76/temperature: min "), "\(plain.stdout)")
        let missing = try Tool.run(try Self.demo(), ["history", "--database", f.path("nothing.sqlite")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no database at \(f.path("nothing.sqlite")): run sdk-demo first"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.path("nothing.sqlite")))
    }

    @Test("plain lines (stdout not a terminal): no escape sequences, the simulated board named first; SIGINT leaves the LED off and exits 0")
    func plainAndSIGINT() throws {
        let f = try TemporaryDirectory("SdkDemoTests")
        defer { f.cleanUp() }
        let demo = try RunningTool(try Self.demo(), Self.simulated + ["--duration", "0", "--database", f.path("demo.sqlite"), "--no-module"])
        #expect(demo.wait(for: "LED on (pin high): temperature ", seconds: 30), "\(demo.stdout)")
        demo.signal(SIGINT)
        let end = demo.finish()
        #expect(end.status == 0, "\(end.stderr)")
        let lines = end.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("sdk-demo: --backend simulated: using the simulated board") == true, "\(lines.first ?? "")")
        #expect(lines.contains("Running until Ctrl-C."))
        #expect(lines.contains { $0.contains("] BME280 (simulated) at 0x76 on i2c-1: ") && $0.hasSuffix(" %RH") }, "\(end.stdout)")
        #expect(lines.last?.hasSuffix("] LED off; stopped by SIGINT.") == true, "\(lines.last ?? "")")
        #expect(!end.stdout.contains("\u{1B}"), "escape sequences in plain output")
    }

    @Test("SIGTERM: the JSON stop event names it and the simulated pin is low")
    func sigterm() throws {
        let demo = try RunningTool(try Self.demo(), Self.simulated + ["--json", "--duration", "0", "--no-storage", "--no-module"])
        #expect(demo.wait(for: "\"type\":\"led\",", seconds: 30), "\(demo.stdout)")
        demo.signal(SIGTERM)
        let end = demo.finish()
        #expect(end.status == 0, "\(end.stderr)")
        let stop = Self.objects(end.stdout).last
        #expect(stop?["type"] as? String == "stop" && stop?["signal"] as? String == "SIGTERM" && stop?["reason"] as? String == "signal")
        #expect(stop?["pinHigh"] as? Bool == false)
    }

    static let script = Tool.onPath("script")

    /// Runs the demo under `script`, which gives it a pseudo-terminal as stdout.
    static func inTerminal(_ arguments: [String], environment: [String: String?]) throws -> Tool.Output {
        let command = ([try demo().path] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
        return try Tool.run(try #require(script), ["-qfec", command, "/dev/null"], environment: environment)
    }

    @Test("a terminal gets the dashboard, redrawn in place; NO_COLOR drops the colors; TERM=dumb gets plain lines",
          .enabled(if: script != nil, "script (util-linux) is not installed"))
    func terminal() throws {
        let arguments = Self.simulated + ["--duration", "3.5", "--no-storage", "--no-module"]
        let tty = try Self.inTerminal(arguments, environment: ["TERM": "xterm", "NO_COLOR": nil])
        #expect(tty.status == 0, "\(tty.stdout)")
        #expect(tty.stdout.hasPrefix("sdk-demo: --backend simulated: using the simulated board"), "\(tty.stdout.prefix(200))")
        #expect(tty.stdout.contains("\u{1B}[?25l") && tty.stdout.contains("\u{1B}[?25h"), "the cursor is not hidden and shown again")
        // Each redraw moves back to the block's first line and clears to the end of the screen.
        let redraws = tty.stdout.components(separatedBy: "\u{1B}[J").count - 1
        #expect(redraws >= 3, "\(redraws) draws")
        #expect(tty.stdout.range(of: "\u{1B}\\[[0-9]+F\u{1B}\\[J", options: .regularExpression) != nil)
        #expect(tty.stdout.contains("\u{1B}[1;32mON "), "the LED is not shown on in color")
        #expect(tty.stdout.contains("LED off; done."))

        let noColor = try Self.inTerminal(arguments, environment: ["TERM": "xterm", "NO_COLOR": "1"])
        #expect(noColor.stdout.contains("\u{1B}[J"))
        #expect(!noColor.stdout.contains("\u{1B}[1m") && !noColor.stdout.contains("\u{1B}[31m"), "colors despite NO_COLOR")

        let dumb = try Self.inTerminal(arguments, environment: ["TERM": "dumb", "NO_COLOR": nil])
        #expect(dumb.status == 0)
        #expect(!dumb.stdout.contains("\u{1B}"), "escape sequences on TERM=dumb")
        #expect(dumb.stdout.contains("] LED off; done."))
    }

    @Test("bad options: exit 64 and a message that says what is wrong", arguments: [
        (["--threshold", "warmth>3"], "The value 'warmth>3' is invalid for '--threshold"),
        (["--threshold", "temperature=3"], "The value 'temperature=3' is invalid for '--threshold"),
        (["--sensor", "bh1750", "--threshold", "temperature>3"], "--threshold temperature: no --sensor measures temperature (bh1750 measures illuminance)"),
        (["--led", "40"], "--led and --button take BCM numbers 0-27"),
        (["--led", "27"], "--led and --button must be different GPIOs"),
        (["--duration=-1"], "--duration must be 0 (until Ctrl-C) or more"),
        (["--json", "--plain"], "--json and --plain exclude each other"),
        (["--no-storage", "--database", "x.sqlite"], "--database and --no-storage exclude each other"),
        (["history", "--simulated", "--database", "x.sqlite"], "--database and --simulated exclude each other"),
    ])
    func badOptions(arguments: [String], message: String) throws {
        let run = try Tool.run(try Self.demo(), arguments)
        #expect(run.status == 64, "\(run)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }
}

// MARK: - The demo module

extension SdkDemoTests {
    /// `sdk-demo module status --json` as one object.
    static func moduleStatus(_ arguments: [String]) throws -> [String: Any] {
        let run = try Tool.run(try demo(), ["module", "status", "--json"] + arguments)
        #expect(run.status == 0, "\(run.stderr)")
        return objects(run.stdout).first ?? [:]
    }

    @Test("the demo module: each missing step is named with its fix; installed with sdk-demo module install and run by plugin-host run, it reports in the demo",
          .enabled(if: ExampleModules.built || ExampleModules.required, "swift build --product ExampleModuleSwift first"))
    func module() throws {
        let pluginHost = try #require(Tool.pluginHost)
        let f = try TemporaryDirectory("SdkDemoTests")
        defer { f.cleanUp() }
        let state = f.path("state")
        let host = ["--host-state-dir", state]

        let absent = try Self.moduleStatus(["--plugin-host", f.path("no-plugin-host")])
        #expect(absent["step"] as? String == "plugin-host-missing", "\(absent)")
        #expect((absent["fix"] as? String)?.contains("swift build --product plugin-host") == true)

        let untrusted = try Self.moduleStatus(host)
        #expect(untrusted["step"] as? String == "no-trusted-key", "\(untrusted)")
        #expect(untrusted["fix"] as? String == "plugin-host keygen --output demo.key && plugin-host trust add demo.key.pub --state-dir \(state)")

        #expect(try Tool.run(pluginHost, ["keygen", "--output", f.path("demo.key")]).status == 0)
        #expect(try Tool.run(pluginHost, ["trust", "add", f.path("demo.key.pub"), "--state-dir", state]).status == 0)
        let trusted = try Self.moduleStatus(host)
        #expect(trusted["step"] as? String == "not-installed", "\(trusted)")
        #expect((trusted["fix"] as? String)?.hasSuffix("sdk-demo module install --key demo.key --host-state-dir \(state)") == true, "\(trusted)")

        // Without root there is no sandbox: the install and the host then run without it.
        let sandboxed = getuid() == 0
        let manifest = Repository.root + "/Examples/ExampleModuleSwift/module.json"
        let install = try Tool.run(try Self.demo(), ["module", "install", "--key", f.path("demo.key"), "--manifest", manifest] + host
                                   + (sandboxed ? [] : ["--no-sandbox"]))
        #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
        #expect(install.stdout.contains("$ plugin-host install "), "\(install.stdout)")
        #expect(install.stdout.contains("com.example.thermostat-swift 1.0.0 installed and committed"), "\(install.stdout)")
        let stopped = try Self.moduleStatus(host)
        #expect(stopped["step"] as? String == "host-not-running", "\(stopped)")

        let process = Process()
        process.executableURL = pluginHost
        process.arguments = ["run", "--state-dir", state] + (sandboxed ? [] : ["--no-sandbox"])
        let runner = try #require(Tool.pluginHostRunner, "plugin-host-runner was not built next to the tests")
        process.environment = ProcessInfo.processInfo.environment.merging(["PLUGIN_HOST_RUNNER": runner.path]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        #expect(waitUntil(seconds: 30) { HostRuntime.runningSnapshot(stateDirectory: state)?.modules.first?.state == .running })

        let run = try Tool.run(try Self.demo(), Self.simulated + ["--json", "--duration", "2", "--no-storage"] + host)
        #expect(run.status == 0, "\(run.stderr)")
        let module = Self.objects(run.stdout).first { $0["type"] as? String == "module" }
        #expect(module?["step"] as? String == "running", "\(run.stdout)")
        #expect(module?["module"] as? String == "com.example.thermostat-swift")
        #expect(module?["sandboxed"] as? Bool == sandboxed)
        // The module's own report, through the host's control socket: its GPIO goes through the host.
        #expect((module?["report"] as? String)?.hasPrefix("gpio: mediated\n") == true, "\(String(describing: module))")
    }
}
