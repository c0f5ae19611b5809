import MQTTTopics
/// Range and consistency checks that the JSON types alone cannot express.
extension ModuleManifest {
    /// Checks every value against its allowed range.
    /// - Throws: `ModuleError` `.invalidValue` (or `.unknownABI`) naming the offending field.
    public func validate() throws(ModuleError) {
        func fail(_ field: String, _ message: String) -> ModuleError {
            ModuleError(.invalidValue, "field '\(field)' \(message)", field: field)
        }
        guard Self.supportedABIVersions.contains(abi) else {
            throw ModuleError(.unknownABI, "unknown module ABI version \(abi) in field 'abi': this host supports \(Self.supportedABIVersions.sorted().map(String.init).joined(separator: ", "))", field: "abi")
        }
        guard Self.isModuleID(id) else {
            throw fail("id", "must be a reverse-DNS name of lowercase letters, digits, '-' and '_' in dot-separated parts, at most 128 characters (e.g. com.example.thermostat); got '\(id)'")
        }
        guard Self.isRelativeSafePath(library.path) else {
            throw fail("library.path", "must be a relative path inside the module without '..' (e.g. lib/libthermostat.so); got '\(library.path)'")
        }
        switch library.libraryKind {
        case .wasm:
            guard library.path.hasSuffix(".wasm") else {
                throw fail("library.path", "must name the module's .wasm file when library.kind is \"wasm\"; got '\(library.path)'")
            }
            if let fuel = library.fuel, !(1_000_000...1_000_000_000_000_000).contains(fuel) {
                throw fail("library.fuel", "must be 1000000...1000000000000000 units; got \(fuel)")
            }
        case .native:
            guard !library.path.hasSuffix(".wasm") else {
                throw fail("library.kind", "is needed for a WebAssembly module: add \"kind\": \"wasm\" to library (library.path is '\(library.path)')")
            }
            guard library.fuel == nil else {
                throw fail("library.fuel", "applies to WebAssembly modules only (library.kind \"wasm\"): a native module's hooks are bounded by their timeouts")
            }
        }
        for (field, symbol) in [("library.entryPoints.start", library.entryPoints.start), ("library.entryPoints.stop", library.entryPoints.stop)] {
            guard Self.isCSymbol(symbol) else { throw fail(field, "must be a C identifier; got '\(symbol)'") }
        }
        var commandNames: Set<String> = []
        for (index, command) in commands.enumerated() {
            let base = "commands[\(index)]"
            guard Self.isCSymbol(command.name) else { throw fail(base + ".name", "must be a C-style identifier; got '\(command.name)'") }
            guard commandNames.insert(command.name).inserted else { throw fail(base + ".name", "repeats command '\(command.name)'") }
            guard Self.isCSymbol(command.symbol) else { throw fail(base + ".symbol", "must be a C identifier; got '\(command.symbol)'") }
            guard command.parameters.count <= 16 else { throw fail(base + ".parameters", "has \(command.parameters.count) parameters; at most 16 are allowed") }
            var parameterNames: Set<String> = []
            for (p, parameter) in command.parameters.enumerated() {
                guard Self.isCSymbol(parameter.name), parameterNames.insert(parameter.name).inserted else {
                    throw fail(base + ".parameters[\(p)].name", "must be a unique identifier; got '\(parameter.name)'")
                }
            }
        }
        var lines: Set<String> = []
        for (index, gpio) in capabilities.gpio.enumerated() {
            let base = "capabilities.gpio[\(index)]"
            guard gpio.chip.hasPrefix("gpiochip"), let n = UInt32(gpio.chip.dropFirst("gpiochip".count)), "gpiochip\(n)" == gpio.chip else {
                throw fail(base + ".chip", "must name a GPIO character device such as gpiochip0; got '\(gpio.chip)'")
            }
            guard gpio.line < 4096 else { throw fail(base + ".line", "must be a line offset below 4096; got \(gpio.line)") }
            guard lines.insert("\(gpio.chip):\(gpio.line)").inserted else { throw fail(base + ".line", "declares \(gpio.chip) line \(gpio.line) twice") }
        }
        var buses: Set<UInt32> = []
        for (index, bus) in capabilities.i2c.enumerated() {
            let base = "capabilities.i2c[\(index)]"
            guard buses.insert(bus.bus).inserted else { throw fail(base + ".bus", "declares bus \(bus.bus) twice; list all its addresses in one entry") }
            guard !bus.addresses.isEmpty else { throw fail(base + ".addresses", "must list at least one address") }
            for (a, address) in bus.addresses.enumerated() where !(0x08...0x77).contains(address) {
                throw fail(base + ".addresses[\(a)]", "must be a 7-bit device address in 0x08...0x77 (8...119); got \(address)")
            }
        }
        for (list, filters) in [("publish", capabilities.mqtt.publish), ("subscribe", capabilities.mqtt.subscribe)] {
            guard filters.count <= 256 else { throw fail("capabilities.mqtt.\(list)", "lists \(filters.count) filters; at most 256 are allowed") }
            for (index, filter) in filters.enumerated() {
                if let problem = MQTTTopicSyntax.problem(template: filter) {
                    throw fail("capabilities.mqtt.\(list)[\(index)]", "is not a valid MQTT topic filter: \(problem); got '\(MQTTTopic.quoted(filter))'")
                }
            }
        }
        guard capabilities.storageQuotaBytes <= 1 << 40 else { throw fail("capabilities.storageQuotaBytes", "must be at most 1 TiB; got \(capabilities.storageQuotaBytes)") }
        guard (1 << 20 ... 1 << 40).contains(resources.memoryBytes) else { throw fail("resources.memoryBytes", "must be between 1 MiB and 1 TiB; got \(resources.memoryBytes)") }
        guard (1...25_600).contains(resources.cpuPercent) else { throw fail("resources.cpuPercent", "must be 1...25600 (per cent of one CPU); got \(resources.cpuPercent)") }
        guard (1...4096).contains(resources.maxProcesses) else { throw fail("resources.maxProcesses", "must be 1...4096; got \(resources.maxProcesses)") }
        guard (16...65_536).contains(resources.maxOpenFiles) else { throw fail("resources.maxOpenFiles", "must be 16...65536; got \(resources.maxOpenFiles)") }
        for (name, hook) in hooks.all {
            guard Self.isCSymbol(hook.symbol) else { throw fail("hooks.\(name).symbol", "must be a C identifier; got '\(hook.symbol)'") }
            guard hook.timeoutSeconds > 0, hook.timeoutSeconds <= 3600 else { throw fail("hooks.\(name).timeoutSeconds", "must be more than 0 and at most 3600; got \(hook.timeoutSeconds)") }
        }
        let h = health
        guard h.readyTimeoutSeconds > 0, h.readyTimeoutSeconds <= 3600 else { throw fail("health.readyTimeoutSeconds", "must be more than 0 and at most 3600; got \(h.readyTimeoutSeconds)") }
        guard h.heartbeatIntervalSeconds > 0, h.heartbeatIntervalSeconds <= 3600 else { throw fail("health.heartbeatIntervalSeconds", "must be more than 0 and at most 3600; got \(h.heartbeatIntervalSeconds)") }
        guard h.stabilityWindowSeconds >= 0, h.stabilityWindowSeconds <= 86_400 else { throw fail("health.stabilityWindowSeconds", "must be 0...86400; got \(h.stabilityWindowSeconds)") }
        guard h.maxRestarts <= 1000 else { throw fail("health.maxRestarts", "must be at most 1000; got \(h.maxRestarts)") }
        guard h.restartWindowSeconds > 0, h.restartWindowSeconds <= 86_400 else { throw fail("health.restartWindowSeconds", "must be more than 0 and at most 86400; got \(h.restartWindowSeconds)") }
        if let allowance = allowDowngradeFrom {
            guard allowance.count <= 64 else { throw fail("allowDowngradeFrom", "lists \(allowance.count) versions; at most 64 are allowed") }
        }
    }

    package static func isModuleID(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128 else { return false }
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        return parts.allSatisfy(isModuleIDPart)
    }

    /// One dot-separated part of a module id: a lowercase ASCII letter, then lowercase letters,
    /// digits, '-' and '_'.
    package static func isModuleIDPart(_ part: Substring) -> Bool {
        part.first?.isLetter == true && part.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func isCSymbol(_ name: String) -> Bool {
        guard let first = name.first, name.utf8.count <= 255, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    static func isRelativeSafePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\0"), path.utf8.count <= 1024 else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." }
    }
}
