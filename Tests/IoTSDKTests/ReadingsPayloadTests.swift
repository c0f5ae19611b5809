import Foundation
import IoTSDK
import Testing

@Suite("Readings as JSON for the uplink (iotsdk.readings/1)")
struct ReadingsPayloadTests {
    private func stored(_ celsius: Double, at seconds: Int64, synchronized: Bool = true) throws -> StoredReading<Temperature> {
        StoredReading(reading: Reading(value: try Temperature.celsius(celsius), timestamp: Timestamp(nanosecondsSinceEpoch: seconds * 1_000_000_000 + 250_000_000)),
                      timeSynchronized: synchronized)
    }

    @Test("units, both times, and the flag only on readings whose time is not synchronized")
    func schema() throws {
        let payload = ReadingsPayload(series: "greenhouse/air", readings: [try stored(21.5, at: 1_796_650_200), try stored(21.55, at: 12, synchronized: false)])
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(payload)) as? [String: Any])
        #expect(json["schema"] as? String == "iotsdk.readings/1")
        #expect(json["series"] as? String == "greenhouse/air")
        #expect(json["quantity"] as? String == "Temperature")
        #expect(json["unit"] as? String == "K")
        let points = try #require(json["readings"] as? [[String: Any]])
        #expect(points.count == 2)
        #expect(points[0]["t"] as? String == "2026-12-07T13:30:00.250Z")
        #expect(points[0]["ns"] as? Int64 == 1_796_650_200_250_000_000)
        #expect(abs((points[0]["v"] as? Double ?? 0) - 294.65) < 1e-9)
        #expect(points[0]["synchronized"] == nil)
        #expect(points[1]["t"] as? String == "1970-01-01T00:00:12.250Z")
        #expect(points[1]["synchronized"] as? Bool == false)
    }

    @Test("batched: readings split into messages of the asked size, in order, one series each")
    func batching() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readings-payload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outbox = try await Outbox(database: try await Database(path: directory.appendingPathComponent("o.sqlite").path))
        let readings = try (0..<5).map { try stored(20 + Double($0), at: 1_796_650_200 + Int64($0)) }
        let ids = try await outbox.enqueue(readings: readings, series: "greenhouse/air", topic: "readings", batch: 2, ttl: .seconds(3600))
        #expect(ids.count == 3)
        let messages = try await outbox.take(batch: 10, lease: .seconds(60))
        #expect(messages.map(\.id) == ids)
        #expect(messages.allSatisfy { $0.topic == "readings" && $0.expiresAt != nil })
        let counts = try messages.map { message -> [Int64] in
            let json = try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
            return try #require(json["readings"] as? [[String: Any]]).compactMap { $0["ns"] as? Int64 }
        }
        #expect(counts.map(\.count) == [2, 2, 1])
        #expect(counts.flatMap { $0 } == readings.map(\.reading.timestamp.nanosecondsSinceEpoch))
        await #expect(throws: StorageError.self) { try await outbox.enqueue(readings: readings, series: "s", topic: "t", batch: 0) }
        #expect(try await outbox.enqueue(readings: [StoredReading<Temperature>](), series: "s", topic: "t").isEmpty)
    }
}
