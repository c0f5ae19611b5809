#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
// The command types (ValueType, CommandValue) are part of the manifest's API.
@_exported import ModuleProtocol

/// The module manifest: the config blob of a module image (media type
/// `ModuleManifest.mediaType`). It says what the module is, which shared library and symbols
/// the runner calls, what hardware and resources it may use, and how its health is judged.
///
/// Decode it with `ModuleManifest.decode(_:)`, which also runs `validate()`: every error names the
/// field it is about.
public struct ModuleManifest: Codable, Sendable, Equatable {
    /// The media type of the config blob that holds a module manifest.
    public static let mediaType = "application/vnd.iotsdk.module.manifest.v1+json"
    /// ABI versions this host can load.
    public static let supportedABIVersions: Set<Int> = [1]

    /// Reverse-DNS identifier, e.g. `com.example.thermostat`.
    public var id: String
    public var version: SemanticVersion
    /// The module ABI version the library was built against (see `supportedABIVersions`).
    public var abi: Int
    public var library: Library
    public var commands: [Command]
    public var capabilities: Capabilities
    public var resources: ResourceLimits
    public var hooks: Hooks
    public var health: HealthPolicy
    /// The signed downgrade allowance: installed versions this image may replace even though it is
    /// not newer than them (a downgrade, or a reinstall of the same version). Without it the host
    /// refuses both. It names exact versions, so an old signed image cannot be replayed to
    /// downgrade a device that has moved on past the versions it names. Optional; absent means none.
    public var allowDowngradeFrom: [SemanticVersion]?

    public init(id: String, version: SemanticVersion, abi: Int, library: Library, commands: [Command] = [],
                capabilities: Capabilities, resources: ResourceLimits, hooks: Hooks = Hooks(), health: HealthPolicy,
                allowDowngradeFrom: [SemanticVersion]? = nil) {
        self.allowDowngradeFrom = allowDowngradeFrom
        self.id = id
        self.version = version
        self.abi = abi
        self.library = library
        self.commands = commands
        self.capabilities = capabilities
        self.resources = resources
        self.hooks = hooks
        self.health = health
    }

    // MARK: - Parts

    /// The shared library (a path inside the module's layer) and its lifecycle entry points.
    public struct Library: Codable, Sendable, Equatable {
        public var path: String
        public var entryPoints: EntryPoints
        /// What `path` is: a shared library for the device's CPU (absent or `native`), or a
        /// WebAssembly module (`wasm`, Documentation/WasmModules.md) that runs on every CPU.
        public var kind: Kind?
        /// wasm only: the most fuel (about one unit per wasm operator executed) one call into the
        /// module may burn before the runner stops it: a hook, a command, or the stretch of a
        /// module's `start` between two sleeps. Absent: `Library.defaultFuel`.
        public var fuel: UInt64?
        public init(path: String, entryPoints: EntryPoints, kind: Kind? = nil, fuel: UInt64? = nil) {
            self.path = path
            self.entryPoints = entryPoints
            self.kind = kind
            self.fuel = fuel
        }

        public enum Kind: String, Codable, Sendable, Equatable {
            case native, wasm
        }

        /// `kind`, or `.native` when absent.
        public var libraryKind: Kind { kind ?? .native }
        /// The fuel of one call when the manifest gives none: 4 × 10⁹ units, a few seconds of
        /// WasmKit's interpreter on a desktop CPU and tens of seconds on a Raspberry Pi.
        public static let defaultFuel: UInt64 = 4_000_000_000
        /// `fuel`, or `defaultFuel`.
        public var fuelPerCall: UInt64 { fuel ?? Self.defaultFuel }
    }

    /// Exported C symbols the runner calls to start and stop the module.
    public struct EntryPoints: Codable, Sendable, Equatable {
        public var start: String
        public var stop: String
        public init(start: String, stop: String) {
            self.start = start
            self.stop = stop
        }
    }

    /// A typed command the host can call (`set_target(double)`), marshalled through libffi.
    public struct Command: Codable, Sendable, Equatable {
        public var name: String
        /// The exported C symbol to call.
        public var symbol: String
        public var parameters: [Parameter]
        /// The C return type; absent means `int32` (a status: 0 for success).
        public var returns: ParameterType?
        public init(name: String, symbol: String, parameters: [Parameter] = [], returns: ParameterType? = nil) {
            self.name = name
            self.symbol = symbol
            self.parameters = parameters
            self.returns = returns
        }

        /// The return type in force (`returns`, or `int32` when absent).
        public var resultType: ParameterType { returns ?? .int32 }
    }

    public struct Parameter: Codable, Sendable, Equatable {
        public var name: String
        public var type: ParameterType
        public init(name: String, type: ParameterType) {
            self.name = name
            self.type = type
        }
    }

    /// The closed set of C types a command parameter or result may have: `ValueType` of
    /// ModuleProtocol, which the host and the runner share (`CommandValue` holds a value of one).
    public typealias ParameterType = ValueType

    /// What the module may ask the host for; anything not declared here is refused.
    public struct Capabilities: Codable, Sendable, Equatable {
        public var gpio: [GPIOLine]
        public var i2c: [I2CBus]
        public var storageQuotaBytes: UInt64
        public var network: Bool
        /// The module's code runs as uid 0 (still without any capability) instead of a user of its
        /// own; an install must allow it (`plugin-host install --allow-root-module`). Optional in
        /// the JSON, and written there only when true, so manifests without it keep their bytes.
        public var root: Bool
        /// The MQTT topics the module may publish to and subscribe to through the host's uplink.
        /// Optional in the JSON, and written there only when it declares a filter, so manifests
        /// without it keep their bytes.
        public var mqtt: MQTTRights
        public init(gpio: [GPIOLine] = [], i2c: [I2CBus] = [], storageQuotaBytes: UInt64 = 0, network: Bool = false, root: Bool = false,
                    mqtt: MQTTRights = MQTTRights()) {
            self.mqtt = mqtt
            self.gpio = gpio
            self.i2c = i2c
            self.storageQuotaBytes = storageQuotaBytes
            self.network = network
            self.root = root
        }
    }

    /// MQTT topic filters (`sensors/{device}/{module}/#`) for the topics a module may publish to
    /// and the filters it may subscribe to, through the host's one broker connection. `{device}`
    /// and `{module}` stand for the device's and the module's id; `+` and `#` are MQTT's
    /// wildcards. Empty: none. `MQTTTopicSyntax` says what a valid filter is.
    public struct MQTTRights: Codable, Sendable, Equatable {
        /// Filters of the topics the module may publish to.
        public var publish: [String]
        /// Filters that cover every filter the module may subscribe to.
        public var subscribe: [String]
        public init(publish: [String] = [], subscribe: [String] = []) {
            self.publish = publish
            self.subscribe = subscribe
        }

        /// Whether it declares no filter at all.
        public var isEmpty: Bool { publish.isEmpty && subscribe.isEmpty }
    }

    public struct GPIOLine: Codable, Sendable, Equatable {
        /// The character-device name, e.g. `gpiochip0`.
        public var chip: String
        public var line: UInt32
        public var direction: Direction
        public init(chip: String, line: UInt32, direction: Direction) {
            self.chip = chip
            self.line = line
            self.direction = direction
        }
    }

    /// A declared line's direction: the protocol's and the broker's type too.
    public typealias Direction = GPIODirection

    public struct I2CBus: Codable, Sendable, Equatable {
        /// The bus number `N` of `/dev/i2c-N`.
        public var bus: UInt32
        /// 7-bit addresses (0x08...0x77) the module may talk to.
        public var addresses: [UInt8]
        public init(bus: UInt32, addresses: [UInt8]) {
            self.bus = bus
            self.addresses = addresses
        }
    }

    /// Limits the sandbox enforces where the kernel offers them.
    public struct ResourceLimits: Codable, Sendable, Equatable {
        public var memoryBytes: UInt64
        /// Share of one CPU, 1...100 per cent per CPU (up to 100 × CPUs).
        public var cpuPercent: UInt32
        public var maxProcesses: UInt32
        public var maxOpenFiles: UInt32
        public init(memoryBytes: UInt64, cpuPercent: UInt32, maxProcesses: UInt32, maxOpenFiles: UInt32) {
            self.memoryBytes = memoryBytes
            self.cpuPercent = cpuPercent
            self.maxProcesses = maxProcesses
            self.maxOpenFiles = maxOpenFiles
        }
    }

    /// An exported function the host calls at one step of an update, with its time limit.
    public struct Hook: Codable, Sendable, Equatable {
        public var symbol: String
        public var timeoutSeconds: Double
        public init(symbol: String, timeoutSeconds: Double) {
            self.symbol = symbol
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// Update hooks, in the order the host runs them: verify → install → start → health → commit;
    /// on failure: rollback → failure. Each is optional.
    public struct Hooks: Codable, Sendable, Equatable {
        public var verify: Hook?
        public var install: Hook?
        public var start: Hook?
        public var health: Hook?
        public var commit: Hook?
        public var rollback: Hook?
        public var failure: Hook?
        public init(verify: Hook? = nil, install: Hook? = nil, start: Hook? = nil, health: Hook? = nil,
                    commit: Hook? = nil, rollback: Hook? = nil, failure: Hook? = nil) {
            self.verify = verify
            self.install = install
            self.start = start
            self.health = health
            self.commit = commit
            self.rollback = rollback
            self.failure = failure
        }

        /// The hooks that are present, by name, in execution order.
        public var all: [(name: String, hook: Hook)] {
            [("verify", verify), ("install", install), ("start", start), ("health", health),
             ("commit", commit), ("rollback", rollback), ("failure", failure)]
                .compactMap { name, hook in hook.map { (name, $0) } }
        }
    }

    /// How the device alone decides that a new version is healthy.
    public struct HealthPolicy: Codable, Sendable, Equatable {
        /// The module must signal ready within this time after start.
        public var readyTimeoutSeconds: Double
        /// The module must send a heartbeat at least this often.
        public var heartbeatIntervalSeconds: Double
        /// The module must stay up this long before the update is committed.
        public var stabilityWindowSeconds: Double
        /// More than this many restarts within `restartWindowSeconds` marks the module broken.
        public var maxRestarts: UInt32
        public var restartWindowSeconds: Double
        public init(readyTimeoutSeconds: Double, heartbeatIntervalSeconds: Double, stabilityWindowSeconds: Double,
                    maxRestarts: UInt32, restartWindowSeconds: Double) {
            self.readyTimeoutSeconds = readyTimeoutSeconds
            self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
            self.stabilityWindowSeconds = stabilityWindowSeconds
            self.maxRestarts = maxRestarts
            self.restartWindowSeconds = restartWindowSeconds
        }
    }
}

// MARK: - Decoding with clear errors

extension ModuleManifest {
    /// Decodes and validates a manifest.
    /// - Throws: `ModuleError` with `.malformedJSON`, `.missingField`, `.wrongType`, `.invalidValue`
    ///   or `.unknownABI`, naming the field.
    public static func decode(_ data: Data) throws(ModuleError) -> ModuleManifest {
        if let syntax = jsonSyntaxError(data) {
            throw ModuleError(.malformedJSON, "the module manifest is not valid JSON: fix the syntax in module.json", underlying: syntax)
        }
        // The ABI decides how the rest is read, so check it before the schema.
        struct ABIProbe: Decodable { var abi: Int? }
        if let value = (try? JSONDecoder().decode(ABIProbe.self, from: data))?.abi, !supportedABIVersions.contains(value) {
            throw ModuleError(.unknownABI, "unknown module ABI version \(value) in field 'abi': this host supports \(supportedABIVersions.sorted().map(String.init).joined(separator: ", ")); rebuild the module against a supported IoTSDK or update the host", field: "abi")
        }
        let manifest: ModuleManifest
        do {
            manifest = try JSONDecoder().decode(ModuleManifest.self, from: data)
        } catch let error as DecodingError {
            throw ModuleError(decoding: error)
        } catch {
            throw ModuleError(.malformedJSON, "the module manifest could not be read", underlying: "\(error)")
        }
        try manifest.validate()
        return manifest
    }

    /// The canonical encoding stored in an image: sorted keys, no insignificant whitespace.
    public func canonicalJSON() throws(ModuleError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch {
            throw ModuleError(.invalidValue, "the module manifest could not be encoded", underlying: "\(error)")
        }
    }
}

/// Renders a coding path as `capabilities.gpio[0].line`.
func fieldPath(_ path: [any CodingKey], appending key: (any CodingKey)? = nil) -> String {
    var text = ""
    for key in path + (key.map { [$0] } ?? []) {
        if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
    }
    return text.isEmpty ? "(top level)" : text
}

extension ModuleError {
    init(decoding error: DecodingError, document: String = "the module manifest") {
        switch error {
        case let .keyNotFound(key, context):
            let field = fieldPath(context.codingPath, appending: key)
            self.init(.missingField, "missing field '\(field)' in \(document): add it (see Documentation/ModuleImage.md)", field: field)
        case let .typeMismatch(type, context):
            let field = fieldPath(context.codingPath)
            self.init(.wrongType, "field '\(field)' has the wrong type: expected \(Self.jsonTypeName(type))", field: field, underlying: context.debugDescription)
        case let .valueNotFound(type, context):
            let field = fieldPath(context.codingPath)
            self.init(.wrongType, "field '\(field)' is null: expected \(Self.jsonTypeName(type))", field: field)
        case let .dataCorrupted(context):
            let field = fieldPath(context.codingPath)
            if context.codingPath.isEmpty {
                self.init(.malformedJSON, "the module manifest is not valid JSON", underlying: context.debugDescription)
            } else {
                self.init(.invalidValue, "field '\(field)' has an invalid value: \(context.debugDescription)", field: field)
            }
        @unknown default:
            self.init(.malformedJSON, "the module manifest could not be read", underlying: "\(error)")
        }
    }

    static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type, is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type, is UInt32.Type, is UInt64.Type: "an integer in range"
        default:
            "\(type)".hasPrefix("Array") ? "an array" : (("\(type)".hasPrefix("Dictionary")) ? "an object" : "an object")
        }
    }
}

// MARK: - Integer fields

// Foundation's JSONDecoder on Linux reports an integer that does not fit its type (a negative
// quota, a fraction) as "The given data was not valid JSON" with no coding path, which would hide
// the field from the user. The manifest's integer fields therefore decode as a JSON number first
// and are range-checked here, so such an error names its field.

extension KeyedDecodingContainer {
    func decodeInteger<T: FixedWidthInteger>(_ type: T.Type = T.self, forKey key: Key) throws -> T {
        let number = try decode(Double.self, forKey: key)
        guard let value = T(exactly: number) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected an integer in \(T.min)...\(T.max); got \(number)")
        }
        return value
    }

    func decodeIntegers<T: FixedWidthInteger>(_ type: T.Type = T.self, forKey key: Key) throws -> [T] {
        var array = try nestedUnkeyedContainer(forKey: key)
        var values: [T] = []
        while !array.isAtEnd {
            let number = try array.decode(Double.self)
            guard let value = T(exactly: number) else {
                throw DecodingError.dataCorruptedError(in: array, debugDescription: "expected an integer in \(T.min)...\(T.max); got \(number)")
            }
            values.append(value)
        }
        return values
    }
}

extension ModuleManifest {
    private enum CodingKeys: String, CodingKey {
        case id, version, abi, library, commands, capabilities, resources, hooks, health, allowDowngradeFrom
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        version = try c.decode(SemanticVersion.self, forKey: .version)
        abi = try c.decodeInteger(forKey: .abi)
        library = try c.decode(Library.self, forKey: .library)
        commands = try c.decode([Command].self, forKey: .commands)
        capabilities = try c.decode(Capabilities.self, forKey: .capabilities)
        resources = try c.decode(ResourceLimits.self, forKey: .resources)
        hooks = try c.decode(Hooks.self, forKey: .hooks)
        health = try c.decode(HealthPolicy.self, forKey: .health)
        allowDowngradeFrom = try c.decodeIfPresent([SemanticVersion].self, forKey: .allowDowngradeFrom)
    }
}

extension ModuleManifest.Capabilities {
    private enum CodingKeys: String, CodingKey { case gpio, i2c, storageQuotaBytes, network, root, mqtt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gpio = try c.decode([ModuleManifest.GPIOLine].self, forKey: .gpio)
        i2c = try c.decode([ModuleManifest.I2CBus].self, forKey: .i2c)
        storageQuotaBytes = try c.decodeInteger(forKey: .storageQuotaBytes)
        network = try c.decode(Bool.self, forKey: .network)
        root = try c.decodeIfPresent(Bool.self, forKey: .root) ?? false
        mqtt = try c.decodeIfPresent(ModuleManifest.MQTTRights.self, forKey: .mqtt) ?? ModuleManifest.MQTTRights()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gpio, forKey: .gpio)
        try c.encode(i2c, forKey: .i2c)
        try c.encode(storageQuotaBytes, forKey: .storageQuotaBytes)
        try c.encode(network, forKey: .network)
        if root { try c.encode(true, forKey: .root) }
        if !mqtt.isEmpty { try c.encode(mqtt, forKey: .mqtt) }
    }
}

extension ModuleManifest.MQTTRights {
    private enum CodingKeys: String, CodingKey { case publish, subscribe }

    // Each list is optional: a module that only publishes need not write `"subscribe": []`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        publish = try c.decodeIfPresent([String].self, forKey: .publish) ?? []
        subscribe = try c.decodeIfPresent([String].self, forKey: .subscribe) ?? []
    }
}

extension ModuleManifest.GPIOLine {
    private enum CodingKeys: String, CodingKey { case chip, line, direction }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chip = try c.decode(String.self, forKey: .chip)
        line = try c.decodeInteger(forKey: .line)
        direction = try c.decode(ModuleManifest.Direction.self, forKey: .direction)
    }
}

extension ModuleManifest.I2CBus {
    private enum CodingKeys: String, CodingKey { case bus, addresses }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bus = try c.decodeInteger(forKey: .bus)
        addresses = try c.decodeIntegers(forKey: .addresses)
    }
}

extension ModuleManifest.ResourceLimits {
    private enum CodingKeys: String, CodingKey { case memoryBytes, cpuPercent, maxProcesses, maxOpenFiles }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memoryBytes = try c.decodeInteger(forKey: .memoryBytes)
        cpuPercent = try c.decodeInteger(forKey: .cpuPercent)
        maxProcesses = try c.decodeInteger(forKey: .maxProcesses)
        maxOpenFiles = try c.decodeInteger(forKey: .maxOpenFiles)
    }
}

extension ModuleManifest.HealthPolicy {
    private enum CodingKeys: String, CodingKey {
        case readyTimeoutSeconds, heartbeatIntervalSeconds, stabilityWindowSeconds, maxRestarts, restartWindowSeconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        readyTimeoutSeconds = try c.decode(Double.self, forKey: .readyTimeoutSeconds)
        heartbeatIntervalSeconds = try c.decode(Double.self, forKey: .heartbeatIntervalSeconds)
        stabilityWindowSeconds = try c.decode(Double.self, forKey: .stabilityWindowSeconds)
        maxRestarts = try c.decodeInteger(forKey: .maxRestarts)
        restartWindowSeconds = try c.decode(Double.self, forKey: .restartWindowSeconds)
    }
}
