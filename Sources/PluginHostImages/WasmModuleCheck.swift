import ModuleWasm

/// The check of a WebAssembly module's file against its manifest (Documentation/WasmModules.md):
/// `pack` runs it on the module directory, the update engine on the unpacked image before the new
/// version is activated, so that a missing export or a wrong signature refuses the image.
extension ModuleManifest {
    /// What the manifest needs the wasm module to export: the entry points and hooks as
    /// `(i32) -> i32`, each command with its parameter and result types (`WasmABI.commandType`).
    public var wasmRequirements: [WasmInterface.Requirement] {
        var requirements = [
            WasmInterface.Requirement(name: library.entryPoints.start, type: WasmABI.entryType, role: "entry point 'start'"),
            WasmInterface.Requirement(name: library.entryPoints.stop, type: WasmABI.entryType, role: "entry point 'stop'"),
        ]
        for (name, hook) in hooks.all {
            requirements.append(.init(name: hook.symbol, type: WasmABI.entryType, role: "hook '\(name)'"))
        }
        for command in commands {
            requirements.append(.init(name: command.symbol, type: WasmABI.commandType(parameters: command.parameters.map(\.type), returns: command.resultType),
                                      role: "command '\(command.name)'"))
        }
        if commands.contains(where: { $0.parameters.contains { $0.type == .string } }) {
            requirements.append(.init(name: WasmABI.allocateExport, type: .init(parameters: [.i32], results: [.i32]),
                                      role: "allocator of string arguments (iotsdk_module.h defines it)"))
        }
        return requirements
    }

    /// Refuses `bytes` (the file at `library.path`) unless it is a wasm32 module that imports only
    /// what the runner provides and exports what this manifest names, with the declared types.
    /// - Throws: `ModuleError` `.wasmModuleRefused` listing every problem at once.
    public func checkWasmModule(_ bytes: [UInt8]) throws(ModuleError) {
        let problems: [String]
        do throws(WasmInterface.ParseError) {
            problems = try WasmInterface(bytes: bytes).problems(with: wasmRequirements, memoryLimit: resources.memoryBytes)
        } catch {
            throw ModuleError(.wasmModuleRefused, "'\(library.path)' is \(error.description)", field: "library.path")
        }
        guard problems.isEmpty else {
            let list = problems.count == 1 ? problems[0] : problems.enumerated().map { "(\($0.offset + 1)) \($0.element)" }.joined(separator: "; ")
            throw ModuleError(.wasmModuleRefused, "the WebAssembly module '\(library.path)' cannot run as \(id) \(version) declares it: \(list)", field: "library.path")
        }
    }
}
