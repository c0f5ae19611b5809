import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

@Suite("Module manifest schema")
struct ModuleManifestTests {
    /// The example manifest with `edit` applied to its JSON object.
    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(Fixture.manifestJSON.utf8)) as? [String: Any])
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    static func error(_ edit: (inout [String: Any]) -> Void) throws -> ModuleError? {
        let data = try edited(edit)
        return ModuleError.caught { _ = try ModuleManifest.decode(data) }
    }

    @Test("the documented example decodes with every field")
    func example() throws {
        let m = try Fixture.manifest
        #expect(m.id == "com.example.thermostat")
        #expect(m.version == SemanticVersion(major: 1, minor: 2, patch: 0))
        #expect(m.abi == 1)
        #expect(m.library.entryPoints.start == "thermostat_start")
        #expect(m.commands == [.init(name: "set_target", symbol: "thermostat_set_target", parameters: [.init(name: "celsius", type: .double)])])
        #expect(m.capabilities.gpio == [.init(chip: "gpiochip0", line: 17, direction: .output)])
        #expect(m.capabilities.i2c == [.init(bus: 1, addresses: [0x76, 0x77])])
        #expect(m.capabilities.storageQuotaBytes == 1 << 20 && m.capabilities.network == false)
        #expect(m.resources.memoryBytes == 32 << 20)
        #expect(m.hooks.all.map(\.name) == ["install", "health"])
        #expect(m.hooks.install?.timeoutSeconds == 30)
        #expect(m.health.maxRestarts == 3 && m.health.restartWindowSeconds == 300)
    }

    @Test("canonical JSON decodes to the same manifest")
    func canonicalRoundTrip() throws {
        let m = try Fixture.manifest
        #expect(try ModuleManifest.decode(m.canonicalJSON()) == m)
    }

    @Test("malformed JSON is refused")
    func malformed() {
        let error = ModuleError.caught { _ = try ModuleManifest.decode(Data("{\"id\": \"a.b\",".utf8)) }
        #expect(error?.code == .malformedJSON)
    }

    @Test("an unknown ABI is refused before anything else, naming 'abi'")
    func unknownABI() throws {
        let error = try Self.error { $0["abi"] = 2; $0["health"] = nil }
        #expect(error?.code == .unknownABI)
        #expect(error?.field == "abi")
        #expect(error?.message.contains("2") == true)
    }

    @Test("a missing field is named with its path", arguments: [
        ("health", "health"), ("version", "version"),
    ])
    func missingTopLevel(_ key: String, _ field: String) throws {
        let error = try Self.error { $0[key] = nil }
        #expect(error?.code == .missingField)
        #expect(error?.field == field)
    }

    @Test("a missing nested field is named with its full path")
    func missingNested() throws {
        let error = try Self.error { object in
            var library = object["library"] as? [String: Any] ?? [:]
            var entryPoints = library["entryPoints"] as? [String: Any] ?? [:]
            entryPoints["stop"] = nil
            library["entryPoints"] = entryPoints
            object["library"] = library
        }
        #expect(error?.code == .missingField)
        #expect(error?.field == "library.entryPoints.stop")
    }

    @Test("a wrong type is named with its path")
    func wrongType() throws {
        let error = try Self.error { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["network"] = "yes"
            object["capabilities"] = capabilities
        }
        #expect(error?.code == .wrongType)
        #expect(error?.field == "capabilities.network")
        let abiError = try Self.error { $0["abi"] = "one" }
        #expect(abiError?.code == .wrongType)
        #expect(abiError?.field == "abi")
    }

    @Test("a value outside the closed set is refused: parameter type, GPIO direction, version")
    func closedSets() throws {
        let parameter = try Self.error { object in
            object["commands"] = [["name": "set_target", "symbol": "s", "parameters": [["name": "x", "type": "float128"]]]]
        }
        #expect(parameter?.code == .invalidValue)
        #expect(parameter?.field == "commands[0].parameters[0].type")
        let direction = try Self.error { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["gpio"] = [["chip": "gpiochip0", "line": 4, "direction": "sideways"]]
            object["capabilities"] = capabilities
        }
        #expect(direction?.field == "capabilities.gpio[0].direction")
        let version = try Self.error { $0["version"] = "1.2" }
        #expect(version?.code == .invalidValue)
        #expect(version?.field == "version")
    }

    @Test("out-of-range values are refused, naming the field")
    func ranges() throws {
        let address = try Self.error { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["i2c"] = [["bus": 1, "addresses": [0x76, 0x03]]]
            object["capabilities"] = capabilities
        }
        #expect(address?.code == .invalidValue)
        #expect(address?.field == "capabilities.i2c[0].addresses[1]")
        let negative = try Self.error { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["storageQuotaBytes"] = -1
            object["capabilities"] = capabilities
        }
        #expect(negative?.code == .invalidValue)
        #expect(negative?.field == "capabilities.storageQuotaBytes")
        let fraction = try Self.error { object in
            var health = object["health"] as? [String: Any] ?? [:]
            health["maxRestarts"] = 2.5
            object["health"] = health
        }
        #expect(fraction?.code == .invalidValue)
        #expect(fraction?.field == "health.maxRestarts")
        let timeout = try Self.error { object in
            object["hooks"] = ["commit": ["symbol": "c", "timeoutSeconds": 0]]
        }
        #expect(timeout?.field == "hooks.commit.timeoutSeconds")
        let heartbeat = try Self.error { object in
            var health = object["health"] as? [String: Any] ?? [:]
            health["heartbeatIntervalSeconds"] = 0
            object["health"] = health
        }
        #expect(heartbeat?.field == "health.heartbeatIntervalSeconds")
        let path = try Self.error { object in
            object["library"] = ["path": "../escape.so", "entryPoints": ["start": "a", "stop": "b"]]
        }
        #expect(path?.field == "library.path")
        let id = try Self.error { $0["id"] = "Thermostat" }
        #expect(id?.field == "id")
        let duplicate = try Self.error { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["gpio"] = [["chip": "gpiochip0", "line": 4, "direction": "input"], ["chip": "gpiochip0", "line": 4, "direction": "output"]]
            object["capabilities"] = capabilities
        }
        #expect(duplicate?.field == "capabilities.gpio[1].line")
    }
}
