import WasmParser
import WasmTypes

/// What a `.wasm` file imports and exports, read without running it, and its check against what
/// the runner provides and what a manifest names (`problems(with:memoryLimit:)`): `pack`, the
/// install (before the new version is activated) and the runner all refuse a module this way.
public struct WasmInterface: Sendable {
    public struct Import: Sendable, Equatable {
        public var module: String
        public var name: String
        /// nil for an import that is not a function (a memory, table, global or tag).
        public var type: FunctionType?
    }

    /// The function exports and their types, by name.
    public var functions: [String: FunctionType] = [:]
    /// The names of exports that are not functions.
    public var otherExports: Set<String> = []
    public var imports: [Import] = []
    /// The limits of the memory exported as `memory`, if it is defined by the module.
    public var memory: Limits?

    /// One thing the manifest needs the module to export.
    public struct Requirement: Sendable, Equatable {
        /// The export's name (the manifest's symbol).
        public var name: String
        public var type: FunctionType
        /// What the manifest calls it, for messages: "entry point 'start'", "command 'set_threshold'".
        public var role: String
        public init(name: String, type: FunctionType, role: String) {
            self.name = name
            self.type = type
            self.role = role
        }
    }

    /// Why a file is no WebAssembly module this runner can read.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads the sections of `bytes` that say what the module imports and exports (not its code).
    public init(bytes: [UInt8]) throws(ParseError) {
        guard bytes.count >= 8, bytes[0] == 0, bytes[1] == 0x61, bytes[2] == 0x73, bytes[3] == 0x6D else {
            throw ParseError(description: "not a WebAssembly module (it does not start with \\0asm): build it for wasm32 (e.g. clang --target=wasm32-wasi)")
        }
        guard bytes[4] == 1, bytes[5] == 0, bytes[6] == 0, bytes[7] == 0 else {
            throw ParseError(description: "a WebAssembly component or a binary of another version (version bytes \(bytes[4...7].map { String($0) }.joined(separator: " "))): the host runs core modules of version 1 (wasm32, WASI preview 1)")
        }
        var types: [FunctionType?] = []
        var functionTypes: [UInt32] = []  // the function index space: imports first
        var memories: [Limits] = []
        var exports: [Export] = []
        var parser = Parser(bytes: bytes)
        do {
            while let payload = try parser.parseNext() {
                switch payload {
                case .typeSection(let groups):
                    for group in groups {
                        for subType in group.types {
                            if case .function(let type) = subType.body { types.append(type) } else { types.append(nil) }
                        }
                    }
                case .importSection(let entries):
                    for entry in entries {
                        var type: FunctionType?
                        switch entry.descriptor {
                        case .function(let index):
                            type = Int(index) < types.count ? types[Int(index)] : nil
                            functionTypes.append(index)
                        case .memory(let limits):
                            memories.append(limits)
                        default:
                            break
                        }
                        imports.append(Import(module: entry.module, name: entry.name, type: type))
                    }
                case .functionSection(let indices):
                    functionTypes += indices
                case .memorySection(let entries):
                    memories += entries.map(\.type)
                case .exportSection(let entries):
                    exports = entries
                default:
                    break
                }
            }
        } catch {
            throw ParseError(description: "not a valid WebAssembly module: \(error)")
        }
        for export in exports {
            switch export.descriptor {
            case .function(let index):
                if Int(index) < functionTypes.count, Int(functionTypes[Int(index)]) < types.count, let type = types[Int(functionTypes[Int(index)])] {
                    functions[export.name] = type
                }
            case .memory(let index):
                otherExports.insert(export.name)
                if export.name == WasmABI.memoryExport, Int(index) < memories.count { memory = memories[Int(index)] }
            default:
                otherExports.insert(export.name)
            }
        }
    }

    /// Everything that keeps the runner from running this module with `requirements` (the
    /// manifest's entry points, hooks and commands), each a sentence that says what to change;
    /// empty when it can run. `memoryLimit`: the manifest's memory limit, which the initial
    /// memory must fit.
    public func problems(with requirements: [Requirement], memoryLimit: UInt64?) -> [String] {
        var problems: [String] = []
        for entry in imports {
            switch entry.module {
            case WasmABI.importModule:
                guard let expected = WasmABI.imports[entry.name] else {
                    problems.append("it imports '\(entry.module)'.'\(entry.name)', which this host does not provide (it provides \(WasmABI.imports.keys.sorted().joined(separator: ", "))): build it against the iotsdk_module.h of this host's version")
                    continue
                }
                if entry.type != expected {
                    problems.append("it imports '\(entry.module)'.'\(entry.name)' as \(entry.type.map(WasmABI.describe) ?? "something other than a function"), but the host provides \(WasmABI.describe(expected))")
                }
            case WasmABI.wasiModule:
                if entry.type == nil || !WasmABI.wasiFunctions.contains(entry.name) {
                    problems.append("it imports '\(entry.module)'.'\(entry.name)', which is not a WASI preview 1 function")
                }
            default:
                problems.append("it imports '\(entry.module)'.'\(entry.name)', which the host does not provide: a wasm module may import only '\(WasmABI.importModule)' (the host calls) and '\(WasmABI.wasiModule)' (WASI preview 1)")
            }
        }
        if let memory {
            if memory.isMemory64 { problems.append("its memory is a 64-bit memory: build for wasm32") }
            if memory.shared { problems.append("its memory is shared (wasm threads): a module runs single-threaded; build without -pthread") }
            let initial = memory.min * 65536
            if let memoryLimit, initial > memoryLimit {
                problems.append("its memory starts at \(initial) bytes (\(memory.min) pages of 64 KiB), more than the manifest's resources.memoryBytes (\(memoryLimit)): raise the limit or make the module's initial memory smaller (-Wl,--initial-memory=…)")
            }
        } else {
            problems.append("it exports no memory named '\(WasmABI.memoryExport)' (wasm-ld exports it unless told not to)")
        }
        let hostTable = FunctionType(parameters: [], results: [.i32])
        if let type = functions[WasmABI.hostTableExport] {
            if type != hostTable { problems.append("its export '\(WasmABI.hostTableExport)' is \(WasmABI.describe(type)), not \(WasmABI.describe(hostTable)): it is the one iotsdk_module.h defines") }
        } else {
            problems.append("it exports no '\(WasmABI.hostTableExport)': include iotsdk_module.h in one of its C files, which defines it for wasm32")
        }
        for requirement in requirements {
            guard let type = functions[requirement.name] else {
                let other = otherExports.contains(requirement.name) ? " ('\(requirement.name)' is exported, but not as a function)" : ""
                problems.append("the \(requirement.role) is not exported as '\(requirement.name)'\(other): export it (visibility default, linked with -Wl,--export-dynamic) or fix the name in module.json")
                continue
            }
            if type != requirement.type {
                problems.append("the \(requirement.role) (export '\(requirement.name)') is \(WasmABI.describe(type)), but the manifest declares \(WasmABI.describe(requirement.type))")
            }
        }
        return problems
    }
}
