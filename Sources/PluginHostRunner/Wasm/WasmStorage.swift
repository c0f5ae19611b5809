import Dispatch
import Glibc
import IoTSDK
import ModuleProtocol
import ModuleWasm
import WasmKit

/// A wasm module's key-value and time-series stores: IoTSDK's `KeyValueStore` (namespace
/// "default") and `TimeSeriesStore` in one database, `<data_dir>/module.db`, opened on first use
/// and held to the manifest's storage quota. The update engine keeps and restores the data
/// directory as a native module's, so the stores follow updates and rollbacks; a Swift module
/// of the same id can open the same file with IoTSDK and read what the wasm one wrote.
final class WasmStorage: @unchecked Sendable {
    /// The database's file name in the module's data directory.
    static let fileName = "module.db"
    /// The key-value namespace the imports use (`KeyValueStore`'s default).
    static let namespace = "default"

    let path: String
    let quota: UInt64
    // Only the wasm thread uses these.
    private var database: Database?
    private var keyValueStore: KeyValueStore?
    private var timeSeriesStore: TimeSeriesStore?

    init(dataDirectory: String, quota: UInt64) {
        path = dataDirectory + "/" + Self.fileName
        self.quota = quota
    }

    private func opened() throws -> Database {
        if let database { return database }
        let opened = try Database(path: path, options: Database.Options(maximumBytes: quota == 0 ? nil : Int64(clamping: quota)))
        database = opened
        return opened
    }

    func keyValue() throws -> KeyValueStore {
        if let keyValueStore { return keyValueStore }
        let database = try opened()
        let store = try waitFor { try await KeyValueStore(database: database, namespace: Self.namespace) }
        keyValueStore = store
        return store
    }

    func timeSeries() throws -> TimeSeriesStore {
        if let timeSeriesStore { return timeSeriesStore }
        let database = try opened()
        let store = try waitFor { try await TimeSeriesStore(database: database) }
        timeSeriesStore = store
        return store
    }
}

/// Runs `body` on Swift's cooperative pool and waits for its outcome on this thread, which must
/// not be one of the pool's (the wasm thread and the main thread are not). The stores' work
/// runs on their database's own queue.
@discardableResult
func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = WaitedOutcome<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { outcome.result = .success(try await body()) } catch { outcome.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.result!.get()
}

/// What `waitFor`'s task gives its waiting thread (written before the semaphore's signal).
private final class WaitedOutcome<T: Sendable>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

extension WasmImportContext {
    /// The storage imports (WasmABI.imports: kv_*, ts_*): each a negative errno on failure, with
    /// last_error giving the store's reason.
    func storageCalls(store: Store) -> [String: Function] {
        var calls: [String: Function] = [:]
        func define(_ name: String, _ body: @escaping ([Value]) throws -> Int32) {
            calls[name] = hostFunction(name, store: store) { [self] arguments in
                do {
                    let result = try body(arguments)
                    setLastError("")
                    return [WASIErrno.result(result)]
                } catch let error as HostCallRefusal {
                    throw error
                } catch let error as WasmHostCallError {
                    throw error
                } catch {
                    return [WASIErrno.result(storageFailure(name, error))]
                }
            }
        }
        define("kv_set") { [self] arguments in
            let key = try text(at: arguments[0].i32, length: arguments[1].i32, "kv_set", what: "the key")
            let json = try text(at: arguments[2].i32, length: arguments[3].i32, limit: WasmABI.maxValueBytes, "kv_set", what: "the value")
            let store = try storage.keyValue()
            try waitFor { try await store.setJSON(json, for: key) }
            return 0
        }
        define("kv_get") { [self] arguments in
            let key = try text(at: arguments[0].i32, length: arguments[1].i32, "kv_get", what: "the key")
            let store = try storage.keyValue()
            guard let json = try waitFor({ try await store.json(for: key) }) else {
                setLastError("kv_get: there is no key '\(key)'")
                throw HostCallRefusal(result: -ENOENT)
            }
            return try copyOutLength(Array(json.utf8), to: arguments[2].i32, capacity: arguments[3].i32, "kv_get")
        }
        define("kv_remove") { [self] arguments in
            let key = try text(at: arguments[0].i32, length: arguments[1].i32, "kv_remove", what: "the key")
            let store = try storage.keyValue()
            return try waitFor { try await store.remove(key) } ? 1 : 0
        }
        define("kv_keys") { [self] arguments in
            let prefix = arguments[1].i32 == 0 ? "" : try text(at: arguments[0].i32, length: arguments[1].i32, "kv_keys", what: "the prefix")
            let store = try storage.keyValue()
            let keys = try waitFor { try await store.keys(prefix: prefix) }
            return try copyOutLength(keys.flatMap { Array($0.utf8) + [0] }, to: arguments[2].i32, capacity: arguments[3].i32, "kv_keys")
        }
        define("ts_append") { [self] arguments in
            let series = try text(at: arguments[0].i32, length: arguments[1].i32, "ts_append", what: "the series' name")
            let quantity = try quantityType(at: arguments[2].i32, length: arguments[3].i32, "ts_append")
            let nanoseconds = Int64(bitPattern: arguments[5].i64)
            let store = try storage.timeSeries()
            try append(quantity, baseValue: Double(bitPattern: arguments[4].f64), at: nanoseconds == 0 ? nil : nanoseconds, to: series, in: store)
            return 0
        }
        define("ts_query") { [self] arguments in
            let series = try text(at: arguments[0].i32, length: arguments[1].i32, "ts_query", what: "the series' name")
            let quantity = try quantityType(at: arguments[2].i32, length: arguments[3].i32, "ts_query")
            let (from, to) = (Int64(bitPattern: arguments[4].i64), Int64(bitPattern: arguments[5].i64))
            let (newestFirst, target, capacity) = (arguments[6].i32 != 0, arguments[7].i32, arguments[8].i32)
            guard capacity <= UInt32(WasmABI.maxQueryReadings), let module = module, module.contains(target, count: capacity * 16) else {
                setLastError("ts_query: \(capacity) readings (16 bytes each) at 0x\(String(target, radix: 16)) are not inside the module's memory, or more than \(WasmABI.maxQueryReadings)")
                throw HostCallRefusal(result: -EFAULT)
            }
            let store = try storage.timeSeries()
            let points = try query(quantity, series: series, from: from, to: to, limit: Int(capacity), newestFirst: newestFirst, in: store)
            try module.withBytes(at: target, count: UInt32(points.count) * 16, for: "ts_query") { raw in
                for (index, point) in points.enumerated() {
                    raw.storeBytes(of: point.nanoseconds.littleEndian, toByteOffset: index * 16, as: Int64.self)
                    raw.storeBytes(of: point.value.bitPattern.littleEndian, toByteOffset: index * 16 + 8, as: UInt64.self)
                }
            }
            return Int32(points.count)
        }
        return calls
    }

    private func quantityType(at address: UInt32, length: UInt32, _ call: String) throws -> any PhysicalQuantity.Type {
        let name = try text(at: address, length: length, call, what: "the quantity's name")
        guard let type = TimeSeriesStore.quantityTypes[name] else {
            setLastError("\(call): '\(name)' is not a quantity; use one of \(TimeSeriesStore.quantityTypes.keys.sorted().joined(separator: ", "))")
            throw HostCallRefusal(result: -EINVAL)
        }
        return type
    }

    private func append<Q: PhysicalQuantity>(_ type: Q.Type, baseValue: Double, at nanoseconds: Int64?, to series: String, in store: TimeSeriesStore) throws {
        let value: Q
        do {
            value = try Q(validatingBaseValue: baseValue)
        } catch {
            setLastError("ts_append: \(error.message)")
            throw HostCallRefusal(result: -EINVAL)
        }
        let reading = try nanoseconds.map { Reading(value: value, timestamp: Timestamp(nanosecondsSinceEpoch: $0)) } ?? Reading(value: value)
        try waitFor { try await store.append(reading, to: series) }
    }

    private func query<Q: PhysicalQuantity>(_ type: Q.Type, series: String, from: Int64, to: Int64, limit: Int, newestFirst: Bool,
                                            in store: TimeSeriesStore) throws -> [(nanoseconds: Int64, value: Double)] {
        let readings = try waitFor {
            try await store.readings(in: series, as: type, from: Timestamp(nanosecondsSinceEpoch: from), to: Timestamp(nanosecondsSinceEpoch: to),
                                     limit: limit, order: newestFirst ? .newestFirst : .oldestFirst)
        }
        return readings.map { ($0.timestamp.nanosecondsSinceEpoch, $0.value.baseValue) }
    }

    /// A store's failure as a negative errno, with its message as last_error.
    private func storageFailure(_ call: String, _ error: any Error) -> Int32 {
        setLastError("\(call): \(error)")
        guard let error = error as? StorageError else { return -EIO }
        switch error.code {
        case .invalidArgument, .typeMismatch: return -EINVAL
        case .notFound: return -ENOENT
        case .quotaExceeded: return -EDQUOT
        case .diskFull: return -ENOSPC
        case .busy: return -EBUSY
        default: return -EIO
        }
    }
}
