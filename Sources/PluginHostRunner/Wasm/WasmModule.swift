@_spi(Fuzzing) import WasmKit
import Glibc
import LinuxSupport
import ModuleProtocol
import ModuleWasm

// A WebAssembly module in the runner (Documentation/WasmModules.md): WasmKit's interpreter runs it
// on one thread, the "wasm thread", which alone touches its store. The host calls are its imports
// (module "iotsdk", WasmABI), the entry points, hooks and commands its exports. Every call into
// the module gets `--wasm-fuel` units of fuel; its memory may grow to `--wasm-memory` bytes.
//
// `@_spi(Fuzzing)`: WasmKit 0.4.2 offers its memory limiter (`Store.resourceLimiter`) as SPI only
// (its comment says it is meant to become public); the package pins that exact version.

/// Why a call into the module ended without a result.
struct WasmFailure: Error, CustomStringConvertible {
    var description: String
    /// The module called exit() (WASI proc_exit) with this status.
    var exitStatus: UInt32?
}

/// What a host call throws when the module passed it something it cannot use: the call into the
/// module ends with this reason, as a trap does.
struct WasmHostCallError: Error, CustomStringConvertible {
    var description: String
}

/// The most bytes `memory.grow` may make the module's memory (`--wasm-memory`).
final class WasmMemoryLimit: ResourceLimiter {
    let bytes: Int
    init(bytes: Int) { self.bytes = bytes }
    func limitMemoryGrowth(to desired: Int) throws -> Bool { desired <= bytes }
    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 1 << 20 }
}

/// One instantiated wasm module. Used on the wasm thread only (and on the main thread before that
/// thread exists), hence `@unchecked Sendable`.
final class WasmModule: @unchecked Sendable {
    let store: Store
    let instance: Instance
    let memory: Memory
    /// The fuel of one call.
    let fuel: UInt64
    /// The module's `iotsdk_host` table, an address in its memory.
    private(set) var hostTable: UInt32 = 0
    /// The call the module is in, for messages ("hook 'install'", "command 'set_threshold'").
    var currentCall = ""

    /// Reads, checks and instantiates the module at `options.library`, then runs its constructors
    /// (`_initialize`) and asks it for its host table. Explains any failure on stderr and exits:
    /// status 2 if the module is unusable, 4 if it trapped while initializing.
    static func load(_ options: Options, step: String, scheduler: WasmScheduler) -> WasmModule {
        let path = options.library
        let shown = options.libraryOnHost ?? path
        let bytes: [UInt8]
        do {
            bytes = try Files.readBytes(path)
        } catch {
            diagnose("cannot read the WebAssembly module '\(shown)': \(error)")
            finish(.moduleUnusable)
        }
        let interface: WasmInterface
        do {
            interface = try WasmInterface(bytes: bytes)
        } catch {
            diagnose("'\(shown)' is \(error.description)")
            finish(.moduleUnusable)
        }
        // Checked again, though the install checked the image: the runner defines only the
        // imports the check allows, and it runs whatever file it is given (a module directory
        // changed on disk since, a runner started by hand).
        let problems = interface.problems(with: [], memoryLimit: options.wasmMemoryLimit)
        guard problems.isEmpty else {
            diagnose("the WebAssembly module '\(shown)' cannot run: \(problems.joined(separator: "; "))")
            finish(.moduleUnusable)
        }
        let engine = Engine(configuration: EngineConfiguration(memoryBoundsChecking: .software, fuelMetering: true))
        let store = Store(engine: engine)
        store.resourceLimiter = WasmMemoryLimit(bytes: Int(clamping: options.wasmMemoryLimit))
        let context = WasmImportContext(options: options, step: step, scheduler: scheduler)
        let imports = context.imports(for: interface, store: store)
        let instance: Instance
        do {
            let module = try parseWasm(bytes: bytes)
            // A start function (run by instantiation) gets the fuel of one call too.
            store.fuel = Fuel(remaining: options.wasmFuel ?? 1)
            instance = try module.instantiate(store: store, imports: imports)
        } catch {
            diagnose("cannot instantiate the WebAssembly module '\(shown)': \(WasmModule.reason(error, fuel: options.wasmFuel))")
            finish(error is Trap ? .wasmTrapped : .moduleUnusable)
        }
        guard let memory = instance.exports[memory: WasmABI.memoryExport] else {
            diagnose("the WebAssembly module '\(shown)' exports no memory named '\(WasmABI.memoryExport)'")
            finish(.moduleUnusable)
        }
        let module = WasmModule(store: store, instance: instance, memory: memory, fuel: options.wasmFuel ?? 1)
        context.module = module
        do {
            if let initialize = instance.exports[function: WasmABI.initializeExport] {
                module.currentCall = "its constructors (\(WasmABI.initializeExport))"
                _ = try module.invoke(initialize, [])
            }
            module.currentCall = "'\(WasmABI.hostTableExport)'"
            let table = try module.invoke(instance.exports[function: WasmABI.hostTableExport]!, [])
            guard case let .i32(address)? = table.first, address != 0 else {
                throw WasmFailure(description: "returned no table from '\(WasmABI.hostTableExport)'")
            }
            module.hostTable = address
        } catch {
            module.exitOnFailure(error)
        }
        return module
    }

    private init(store: Store, instance: Instance, memory: Memory, fuel: UInt64) {
        self.store = store
        self.instance = instance
        self.memory = memory
        self.fuel = fuel
    }

    /// Calls `function` with a fresh budget of fuel; the budget of a call it interrupts (a command
    /// run while `start` sleeps) is given back afterwards.
    func invoke(_ function: Function, _ arguments: [Value]) throws -> [Value] {
        let interrupted = store.fuel
        store.fuel = Fuel(remaining: fuel)
        defer { store.fuel = interrupted }
        do {
            return try function.invoke(arguments)
        } catch let exit as WasmExit {
            throw WasmFailure(description: "called exit(\(exit.status)) in \(currentCall)", exitStatus: exit.status)
        } catch {
            throw WasmFailure(description: "trapped in \(currentCall): \(Self.reason(error, fuel: fuel))")
        }
    }

    /// A fresh budget for the call in progress (`start` after each sleep).
    func refuel() { store.fuel = Fuel(remaining: fuel) }

    /// Calls the entry point or hook `symbol` with the host table; what it returned.
    func callEntry(_ symbol: String, role: String) throws -> Int32 {
        guard let function = instance.exports[function: symbol] else {
            throw WasmFailure(description: "does not export the \(role) '\(symbol)': export it (visibility default, linked with -Wl,--export-dynamic)")
        }
        guard function.type == WasmABI.entryType else {
            throw WasmFailure(description: "exports the \(role) '\(symbol)' as \(WasmABI.describe(function.type)), not \(WasmABI.describe(WasmABI.entryType))")
        }
        let previous = currentCall
        currentCall = "\(role) '\(symbol)'"
        defer { currentCall = previous }
        let results = try invoke(function, [.i32(hostTable)])
        guard case let .i32(value)? = results.first else { return -1 }
        return Int32(bitPattern: value)
    }

    /// Says why the module failed on stderr and exits: the module's own exit status after exit(),
    /// status 4 (wasm trapped) otherwise.
    func exitOnFailure(_ error: any Error) -> Never {
        if let failure = error as? WasmFailure {
            diagnose("the WebAssembly module \(failure.description)")
            if let status = failure.exitStatus { finish(Int32(bitPattern: status)) }
        } else {
            diagnose("the WebAssembly module failed in \(currentCall): \(error)")
        }
        finish(.wasmTrapped)
    }

    /// A trap's reason in one line (WasmKit's description carries a backtrace of every frame).
    static func reason(_ error: any Error, fuel: UInt64? = nil) -> String {
        var text = String(describing: error)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1 {
            let frames = lines.count - 1
            text = String(lines[0]) + (frames > 1 ? " (\(frames) wasm frames deep)" : "")
        }
        if text.hasPrefix("Trap: ") { text.removeFirst("Trap: ".count) }
        if text.hasPrefix("out of fuel"), let fuel {
            text += ": it ran more than \(fuel) units of fuel (about as many wasm instructions) in one call without returning or sleeping; raise library.fuel in module.json if that is its normal work"
        } else if text.hasPrefix("call stack exhausted") {
            text += ": too deep a recursion"
        }
        return text
    }

    // MARK: Memory

    /// Whether the `count` bytes at `address` are all inside the module's memory.
    func contains(_ address: UInt32, count: UInt32) -> Bool {
        UInt64(address) + UInt64(count) <= UInt64(memory.byteCount)
    }

    /// The bytes at `address`, if all `count` of them are inside the module's memory.
    func bytes(at address: UInt32, count: UInt32) -> [UInt8]? {
        guard contains(address, count: count) else { return nil }
        return memory.withUnsafeBufferPointer(offset: UInt(address), count: Int(count)) { Array($0) }
    }

    /// Runs `body` on the `count` bytes at `address`; throws if they are not all inside the memory.
    func withBytes<T>(at address: UInt32, count: UInt32, for call: String, _ body: (UnsafeMutableRawBufferPointer) throws -> T) throws -> T {
        guard contains(address, count: count) else {
            throw WasmHostCallError(description: "\(call): \(count) bytes at 0x\(String(address, radix: 16)) are outside the module's memory (\(memory.byteCount) bytes)")
        }
        return try memory.withUnsafeMutableBufferPointer(offset: UInt(address), count: Int(count), body)
    }

    /// The NUL-terminated string at `address`, at most `limit` bytes; nil if it runs past the
    /// memory or the limit.
    func cString(at address: UInt32, limit: Int) -> [UInt8]? {
        let size = memory.byteCount
        guard Int(address) < size else { return nil }
        return memory.withUnsafeBufferPointer(offset: UInt(address), count: size - Int(address)) { buffer in
            guard let end = buffer.prefix(limit + 1).firstIndex(of: 0) else { return nil }
            return Array(buffer[..<end])
        }
    }
}

/// WASI proc_exit: ends the call into the module.
struct WasmExit: Error {
    var status: UInt32
}
