import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

@Suite("Module manifest: capabilities.mqtt")
struct MQTTManifestTests {
    static func decode(mqtt: Any?) throws -> Result<ModuleManifest, ModuleError> {
        let data = try ModuleManifestTests.edited { object in
            var capabilities = object["capabilities"] as? [String: Any] ?? [:]
            capabilities["mqtt"] = mqtt
            object["capabilities"] = capabilities
        }
        do { return .success(try ModuleManifest.decode(data)) } catch { return .failure(error) }
    }

    @Test("absent means none, and the canonical JSON leaves it out (old manifests keep their bytes)")
    func absent() throws {
        let manifest = try Self.decode(mqtt: nil).get()
        #expect(manifest.capabilities.mqtt == .init())
        #expect(!String(decoding: try manifest.canonicalJSON(), as: UTF8.self).contains("mqtt"))
    }

    @Test("filters with placeholders and wildcards decode, either list may be left out, and round-trip")
    func declared() throws {
        let manifest = try Self.decode(mqtt: ["publish": ["sensors/{device}/{module}/#", "status/{device}/{module}"]]).get()
        #expect(manifest.capabilities.mqtt.publish == ["sensors/{device}/{module}/#", "status/{device}/{module}"])
        #expect(manifest.capabilities.mqtt.subscribe == [])
        #expect(try ModuleManifest.decode(manifest.canonicalJSON()) == manifest)
        let both = try Self.decode(mqtt: ["subscribe": ["commands/{device}/+/set", "#"], "publish": []]).get()
        #expect(both.capabilities.mqtt.subscribe == ["commands/{device}/+/set", "#"])
    }

    @Test("an invalid filter is refused naming the field and the rule", arguments: [
        ("publish", ["ok/topic", "a/#/b"], "capabilities.mqtt.publish[1]", "'#' must be a whole level and the last one"),
        ("publish", ["a/b#"], "capabilities.mqtt.publish[0]", "'#' must be a whole level"),
        ("subscribe", ["a/b+/c"], "capabilities.mqtt.subscribe[0]", "'+' must be a whole level"),
        ("subscribe", [""], "capabilities.mqtt.subscribe[0]", "it is empty"),
        ("publish", ["a/\u{0}b"], "capabilities.mqtt.publish[0]", "it contains NUL"),
        ("publish", [String(repeating: "é", count: 32_768)], "capabilities.mqtt.publish[0]", "65536 bytes of UTF-8; MQTT allows at most 65535"),
        ("publish", ["sensors/{devices}/x"], "capabilities.mqtt.publish[0]", "placeholders {device} and {module}"),
        ("publish", ["sensors/{device/x"], "capabilities.mqtt.publish[0]", "placeholders {device} and {module}"),
        ("subscribe", ["$SYS/#"], "capabilities.mqtt.subscribe[0]", "starting with '$'"),
        ("subscribe", ["{device}/x"], nil, nil),
    ] as [(String, [String], String?, String?)])
    func invalid(_ list: String, _ filters: [String], _ field: String?, _ rule: String?) throws {
        let result = try Self.decode(mqtt: [list: filters])
        guard let field, let rule else {
            #expect(throws: Never.self) { try result.get() }
            return
        }
        guard case let .failure(error) = result else { Issue.record("accepted \(filters)"); return }
        #expect(error.code == .invalidValue)
        #expect(error.field == field)
        #expect(error.message.contains(rule), "\(error.message)")
        #expect(error.message.utf8.count < 1000, "a long filter is quoted short")
    }

    @Test("a filter that is not a string, and a list that is not an array, name their field")
    func wrongType() throws {
        guard case let .failure(error) = try Self.decode(mqtt: ["publish": [7]]) else { Issue.record("accepted"); return }
        #expect(error.code == .wrongType && error.field == "capabilities.mqtt.publish[0]")
        guard case let .failure(other) = try Self.decode(mqtt: ["subscribe": "a/#"]) else { Issue.record("accepted"); return }
        #expect(other.code == .wrongType && other.field == "capabilities.mqtt.subscribe")
    }
}
