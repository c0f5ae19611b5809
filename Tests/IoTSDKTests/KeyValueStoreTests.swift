import Foundation
import Testing
@testable import IoTSDK

/// A folder of its own for one test's database files, removed when the suite instance goes.
/// (Used by the KeyValueStore and Outbox tests.)
final class ScratchDatabaseFolder: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("iotsdk-storage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Opens (creating) the database file `name` in the folder.
    func openDatabase(_ name: String = "app.db") throws -> Database {
        try Database(path: path + "/" + name, options: .init(durability: .normal))
    }
}

private struct SamplingSettings: Codable, Sendable, Equatable {
    var intervalSeconds: Int
    var channels: [String]
    var offset: Double
    var calibratedAt: Timestamp?
}

private struct Throwing: Codable, Sendable {
    init() {}
    init(from decoder: any Decoder) throws { self.init() }
    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(0, .init(codingPath: [], debugDescription: "refuses to encode"))
    }
}

private extension KeyValueStore.Key where Value == Int {
    static let interval = Self("sampling.interval")
}

@Suite("KeyValueStore")
final class KeyValueStoreTests {
    let folder: ScratchDatabaseFolder
    let database: Database

    init() throws {
        folder = try ScratchDatabaseFolder()
        database = try folder.openDatabase()
    }

    @Test("values of several types come back exactly as stored")
    func roundTrip() async throws {
        let store = try await KeyValueStore(database: database)
        let settings = SamplingSettings(intervalSeconds: 30, channels: ["a0", "a1"], offset: -0.1,
                                        calibratedAt: Timestamp(nanosecondsSinceEpoch: 1_700_000_000_123_456_789))
        try await store.set(42, for: "int")
        try await store.set(Int64.min, for: "int64")
        try await store.set("zürich / ✓", for: "text")
        try await store.set(0.1 + 0.2, for: "double")
        try await store.set(true, for: "flag")
        try await store.set(settings, for: "settings")
        try await store.set(["b": 2, "a": 1], for: "map")
        try await store.set([UInt8](0...255), for: "bytes")

        #expect(try await store.value(Int.self, for: "int") == 42)
        #expect(try await store.value(Int64.self, for: "int64") == Int64.min)
        #expect(try await store.value(String.self, for: "text") == "zürich / ✓")
        #expect(try await store.value(Double.self, for: "double") == 0.30000000000000004)
        #expect(try await store.value(Bool.self, for: "flag") == true)
        #expect(try await store.value(SamplingSettings.self, for: "settings") == settings)
        #expect(try await store.value([String: Int].self, for: "map") == ["a": 1, "b": 2])
        #expect(try await store.value([UInt8].self, for: "bytes") == [UInt8](0...255))
        #expect(try await store.value(Int.self, for: "missing") == nil)
    }

    @Test("non-finite numbers are stored, not refused")
    func nonFinite() async throws {
        let store = try await KeyValueStore(database: database)
        try await store.set([Double.infinity, -Double.infinity, 1.5], for: "limits")
        try await store.set(Double.nan, for: "nan")
        #expect(try await store.value([Double].self, for: "limits") == [.infinity, -.infinity, 1.5])
        #expect(try await store.value(Double.self, for: "nan")?.isNaN == true)
    }

    @Test("JSON text stored as it is reads back as typed values, and typed values as their JSON; text that is not one JSON value is refused and nothing stored")
    func jsonText() async throws {
        let store = try await KeyValueStore(database: database)
        try await store.setJSON(#"{"calibratedAt":1700000000000000000,"channels":["a0"],"intervalSeconds":30,"offset":-0.5}"#, for: "settings")
        try await store.setJSON("21.5", for: "threshold")
        try await store.setJSON(#" "on" "#, for: "mode")
        #expect(try await store.value(SamplingSettings.self, for: "settings")
                == SamplingSettings(intervalSeconds: 30, channels: ["a0"], offset: -0.5, calibratedAt: Timestamp(nanosecondsSinceEpoch: 1_700_000_000_000_000_000)))
        #expect(try await store.value(Double.self, for: "threshold") == 21.5)
        #expect(try await store.value(String.self, for: "mode") == "on")
        try await store.set([1, 2], for: "list")
        #expect(try await store.json(for: "list") == "[1,2]")
        #expect(try await store.json(for: "missing") == nil)
        for text in ["{oops", "", "1 2", "[1,", "nul", #"{"a":}"#] {
            await #expect(throws: StorageError.self, "\(text)") { try await store.setJSON(text, for: "bad") }
        }
        #expect(try await store.contains("bad") == false)
        for text in ["null", "true", "[]", "{}", #"{"a":[null,{"b":-1e300}]}"#] {
            try await store.setJSON(text, for: "good")
            #expect(try await store.json(for: "good") == text)
        }
    }

    @Test("set replaces the value, also with one of another type")
    func replace() async throws {
        let store = try await KeyValueStore(database: database)
        try await store.set(1, for: "k")
        try await store.set(2, for: "k")
        #expect(try await store.value(Int.self, for: "k") == 2)
        try await store.set("two", for: "k")
        #expect(try await store.value(String.self, for: "k") == "two")
        #expect(try await store.keys() == ["k"])
    }

    @Test("reading as the wrong type throws typeMismatch naming key and types; the stored JSON is untouched")
    func wrongType() async throws {
        let store = try await KeyValueStore(database: database, namespace: "app")
        try await store.set("fast", for: "mode")
        let before = try await rawRow(store, "mode")

        let error = await #expect(throws: StorageError.self) { try await store.value(Int.self, for: "mode") }
        #expect(error?.code == .typeMismatch)
        #expect(error?.message.contains("'mode'") == true)
        #expect(error?.message.contains("namespace 'app'") == true)
        #expect(error?.message.contains("stored as Swift.String") == true)
        #expect(error?.message.contains("as Swift.Int") == true)

        let updateError = await #expect(throws: StorageError.self) {
            try await store.update("mode", as: Int.self) { $0 = 7 }
        }
        #expect(updateError?.code == .typeMismatch)
        #expect(try await rawRow(store, "mode") == before)
        #expect(try await store.value(String.self, for: "mode") == "fast")
    }

    @Test("update is atomic: concurrent increments are all counted")
    func concurrentUpdates() async throws {
        let store = try await KeyValueStore(database: database)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask { try await store.update("counter", default: 0) { $0 += 1 } }
            }
            try await group.waitForAll()
        }
        #expect(try await store.value(Int.self, for: "counter") == 40)
    }

    @Test("update creates, changes and (setting nil) removes; it returns the stored value")
    func updateLifecycle() async throws {
        let store = try await KeyValueStore(database: database)
        let created = try await store.update("list", as: [String].self) { value in
            #expect(value == nil)
            value = ["a"]
        }
        #expect(created == ["a"])
        let appended = try await store.update("list", as: [String].self) { $0?.append("b") }
        #expect(appended == ["a", "b"])
        #expect(try await store.value([String].self, for: "list") == ["a", "b"])
        let removed = try await store.update("list", as: [String].self) { $0 = nil }
        #expect(removed == nil)
        #expect(try await store.contains("list") == false)
    }

    @Test("an update whose body throws changes nothing")
    func updateRollback() async throws {
        struct Refused: Error {}
        let store = try await KeyValueStore(database: database)
        try await store.set(5, for: "n")
        await #expect(throws: Refused.self) {
            try await store.update("n", as: Int.self) { value in
                value = 6
                throw Refused()
            }
        }
        #expect(try await store.value(Int.self, for: "n") == 5)
    }

    @Test("remove, contains and keys(prefix:) with characters that LIKE would treat specially")
    func keysAndRemove() async throws {
        let store = try await KeyValueStore(database: database)
        for key in ["net.ssid", "net.psk", "net_x", "net%", "sensor.rate", "n"] {
            try await store.set(key.count, for: key)
        }
        #expect(try await store.keys() == ["n", "net%", "net.psk", "net.ssid", "net_x", "sensor.rate"])
        #expect(try await store.keys(prefix: "net.") == ["net.psk", "net.ssid"])
        #expect(try await store.keys(prefix: "net_") == ["net_x"])
        #expect(try await store.keys(prefix: "net%") == ["net%"])
        #expect(try await store.keys(prefix: "x") == [])
        #expect(try await store.contains("net.psk"))
        #expect(try await store.remove("net.psk") == true)
        #expect(try await store.remove("net.psk") == false)
        #expect(try await store.contains("net.psk") == false)
        #expect(try await store.keys(prefix: "net.") == ["net.ssid"])
    }

    @Test("namespaces keep the same key apart")
    func namespaces() async throws {
        let wifi = try await KeyValueStore(database: database, namespace: "wifi")
        let sensors = try wifi.namespace("sensors")
        try await wifi.set("home", for: "name")
        try await sensors.set(3, for: "name")
        try await sensors.set(1, for: "other")
        #expect(try await wifi.value(String.self, for: "name") == "home")
        #expect(try await sensors.value(Int.self, for: "name") == 3)
        #expect(try await wifi.keys() == ["name"])
        #expect(try await sensors.removeAll() == 2)
        #expect(try await sensors.keys() == [])
        #expect(try await wifi.value(String.self, for: "name") == "home")
    }

    @Test("typed keys read and write their own type")
    func typedKeys() async throws {
        let store = try await KeyValueStore(database: database)
        try await store.set(15, for: .interval)
        #expect(try await store.value(for: .interval) == 15)
        #expect(try await store.update(.interval, default: 0) { $0 *= 2 } == 30)
        #expect(try await store.value(Int.self, for: "sampling.interval") == 30)
        #expect(try await store.contains(.interval))
        #expect(try await store.remove(.interval))
        #expect(try await store.value(for: .interval) == nil)
    }

    @Test("the stored type name is stable: no build-specific parts for local types")
    func typeNames() async throws {
        struct Local: Codable, Sendable, Equatable { var x: Int }
        #expect(String(reflecting: Local.self).contains("(unknown context at $"))
        #expect(StorageJSON.typeName(Local.self) == "IoTSDKTests.KeyValueStoreTests.Local")
        #expect(StorageJSON.typeName([Local].self) == "Swift.Array<IoTSDKTests.KeyValueStoreTests.Local>")
        let store = try await KeyValueStore(database: database)
        try await store.set(Local(x: 1), for: "local")
        #expect(try await rawRow(store, "local").prefix(2) == [#"{"x":1}"#, "IoTSDKTests.KeyValueStoreTests.Local"])
    }

    @Test("values survive closing and reopening the database file")
    func reopen() async throws {
        let settings = SamplingSettings(intervalSeconds: 5, channels: ["t"], offset: 0.25, calibratedAt: nil)
        do {
            let first = try folder.openDatabase("reopen.db")
            let store = try await KeyValueStore(database: first, namespace: "persist")
            try await store.set(settings, for: "settings")
            try await store.update("boots", default: 0) { $0 += 1 }
        }   // the only connection to reopen.db closes here
        let reopened = try folder.openDatabase("reopen.db")
        let store = try await KeyValueStore(database: reopened, namespace: "persist")
        #expect(try await store.value(SamplingSettings.self, for: "settings") == settings)
        #expect(try await store.update("boots", default: 0) { $0 += 1 } == 2)
        #expect(try await reopened.schemaVersion("iotsdk.kv") == 1)
    }

    @Test("invalid keys, namespaces and values are refused with invalidArgument")
    func invalid() async throws {
        let store = try await KeyValueStore(database: database)
        let empty = await #expect(throws: StorageError.self) { try await store.set(1, for: "") }
        #expect(empty?.code == .invalidArgument)
        let nul = await #expect(throws: StorageError.self) { try await store.set(1, for: "a\u{0}b") }
        #expect(nul?.code == .invalidArgument)
        let encoding = await #expect(throws: StorageError.self) { try await store.set(Throwing(), for: "t") }
        #expect(encoding?.code == .invalidArgument)
        #expect(encoding?.message.contains("refuses to encode") == true)
        #expect(try await store.contains("t") == false)
        #expect(throws: StorageError.self) { try store.namespace("") }
    }

    /// The stored row as SQLite has it: (JSON text, type, updated_at_ns).
    private func rawRow(_ store: KeyValueStore, _ key: String) async throws -> [String] {
        let namespace = store.namespace
        return try await database.perform { c in
            let statement = try c.statement("SELECT value, type, updated_at_ns FROM iotsdk_kv WHERE namespace = ? AND key = ?")
            defer { statement.reset() }
            try statement.bind(.text(namespace), .text(key))
            guard try statement.step() else { return [] }
            return [statement.text(0), statement.text(1), String(statement.int64(2))]
        }
    }
}
