import Glibc
import ModuleProtocol

/// The command line of `plugin-host-runner`, parsed by hand (the runner depends on nothing but
/// the C module ABI and libc, so that it stays small and starts fast).
///
///     plugin-host-runner hook  --library <path> --symbol <sym> --step <name> <common options>
///     plugin-host-runner start --library <path> --start <sym> --stop <sym> <common options>
///     plugin-host-runner probe-sandbox
///
/// common options: --module-id <id> --module-version <v> --module-dir <dir> --data-dir <dir> --events-fd <n>
/// [--storage-quota <bytes>] [--device-id <id>] [--wasm-fuel <units> --wasm-memory <bytes>]. `--events-fd` is the host's end of a bootstrap socketpair on which the
/// runner connects to the host (HostLink.swift); the host's `welcome` says whether and how to
/// sandbox the module (`SandboxSpec`, Sandbox.swift). `--sandbox-spec`, `--sandbox-status-fd` and
/// `--sandbox-namespaces` are internal: the runner passes them to itself when it re-executes as the
/// sandbox's init, whose `--events-fd` is then the connection already made.
struct Options {
    enum Mode: String {
        case hook, start
        /// Tries each namespace and prctl the sandbox uses and prints what the kernel allows.
        case probeSandbox = "probe-sandbox"
    }

    var mode: Mode
    var library: String
    /// hook mode: the hook's symbol.
    var symbol = ""
    /// hook mode: the update step ("verify", "install", ...); start mode: "run".
    var step = "run"
    var start = ""
    var stop = ""
    var moduleID: String
    var moduleVersion: String
    var moduleDirectory: String
    var dataDirectory: String
    var eventsFD: Int32
    /// Internal, in the sandbox's init: the spec the outer runner received in `welcome`
    /// (`--sandbox-spec`, `SandboxSpec.encoded()` in hex).
    var sandboxSpec: SandboxSpec?
    /// Internal: set in the sandbox's init process (the runner re-executed inside the new PID
    /// namespace); the pipe on which it reports the module process's wait status.
    var sandboxStatusFD: Int32?
    /// Internal: the namespaces the outer runner created (mnt, pid, ipc, uts, net, cgroup).
    var sandboxNamespaces: [String] = []
    /// The library's path on the host, when `library` was rewritten to its path in the sandbox.
    var libraryOnHost: String?
    /// `--storage-quota`: the manifest's storageQuotaBytes, for the host table (0: none).
    var storageQuota: UInt64 = 0
    /// `--device-id`: the device's id in MQTT topics, for the host table ("": the host has no uplink).
    var deviceID = ""
    /// `--wasm-fuel`: the library is a WebAssembly module (Wasm/WasmRunner.swift), and this is
    /// the fuel of one call into it (the manifest's library.fuel); nil: a native library.
    var wasmFuel: UInt64?
    /// `--wasm-memory`: the most bytes its linear memory may grow to (resources.memoryBytes).
    var wasmMemoryLimit: UInt64 = 0

    static let usage = """
    usage: plugin-host-runner hook --library <path.so> --symbol <symbol> --step <name> COMMON
           plugin-host-runner start --library <path.so> --start <symbol> --stop <symbol> COMMON
           plugin-host-runner probe-sandbox [--events-fd <n>]
    COMMON: --module-id <id> --module-version <version> --module-dir <dir> --data-dir <dir> --events-fd <n>
            [--storage-quota <bytes>] [--device-id <id>] [--wasm-fuel <units> --wasm-memory <bytes>]

    Runs one hook or the start/stop entry points of a module's shared library, or of its WebAssembly
    module (--wasm-fuel, with the fuel of one call and the limit of its memory); plugin-host starts it,
    with one end of a bootstrap AF_UNIX SOCK_SEQPACKET socketpair as --events-fd, on which the
    runner connects to the host. When the host's welcome carries a sandbox spec, the module runs in
    namespaces, cgroups and a new root as the spec says.
    Exit status: 0 hook returned 0 / module stopped; 1 hook returned non-zero; 2 library or symbol
    not loadable; 3 start returned non-zero; 5 sandbox not set up (strict and a part refused); 6 no
    connection to the host (--events-fd is no bootstrap socket, or the host
    refused or did not answer); 64 bad command line.
    """

    /// Parses `arguments` (without argv[0]); a `UsageError` saying what is wrong on a bad command line.
    static func parse(_ arguments: [String]) -> Result<Options, UsageError> {
        guard let first = arguments.first else { return .failure(UsageError("missing mode: hook or start")) }
        guard let mode = Mode(rawValue: first) else { return .failure(UsageError("unknown mode '\(first)': expected hook, start or probe-sandbox")) }
        if mode == .probeSandbox {
            // Alone (by hand) it prints what it found; with --events-fd it also sends it to the host.
            var fd: Int32 = -1
            if arguments.count == 3, arguments[1] == "--events-fd" {
                guard let value = Int32(arguments[2]), value >= 0 else { return .failure(UsageError("--events-fd must be a descriptor number; got '\(arguments[2])'")) }
                fd = value
            } else if arguments.count != 1 {
                return .failure(UsageError("probe-sandbox takes no option but --events-fd <n>"))
            }
            return .success(Options(mode: mode, library: "", moduleID: "", moduleVersion: "", moduleDirectory: "", dataDirectory: "", eventsFD: fd))
        }
        var values: [String: String] = [:]
        var index = 1
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), name.count > 2 else { return .failure(UsageError("unexpected argument '\(name)'")) }
            guard index + 1 < arguments.count else { return .failure(UsageError("option \(name) needs a value")) }
            values[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        var required = ["library", "module-id", "module-version", "module-dir", "data-dir", "events-fd"]
        required += mode == .hook ? ["symbol", "step"] : ["start", "stop"]
        let optional = ["sandbox-spec", "sandbox-status-fd", "sandbox-namespaces", "storage-quota", "device-id", "wasm-fuel", "wasm-memory"]
        let known = Set(required + optional)
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            return .failure(UsageError("unknown option --\(unknown) for mode \(mode.rawValue)"))
        }
        if let missing = required.first(where: { values[$0] == nil }) {
            return .failure(UsageError("missing option --\(missing)"))
        }
        guard let fd = Int32(values["events-fd"]!), fd >= 0 else {
            return .failure(UsageError("--events-fd must be a file descriptor number; got '\(values["events-fd"]!)'"))
        }
        var options = Options(mode: mode, library: values["library"]!, moduleID: values["module-id"]!,
                              moduleVersion: values["module-version"]!, moduleDirectory: values["module-dir"]!,
                              dataDirectory: values["data-dir"]!, eventsFD: fd)
        switch mode {
        case .hook:
            options.symbol = values["symbol"]!
            options.step = values["step"]!
        case .start:
            options.start = values["start"]!
            options.stop = values["stop"]!
        case .probeSandbox:
            break
        }
        if let quota = values["storage-quota"] {
            guard let bytes = UInt64(quota) else { return .failure(UsageError("--storage-quota must be a number of bytes; got '\(quota)'")) }
            options.storageQuota = bytes
        }
        options.deviceID = values["device-id"] ?? ""
        if let fuel = values["wasm-fuel"] {
            guard let units = UInt64(fuel), units > 0 else { return .failure(UsageError("--wasm-fuel must be a positive number of fuel units; got '\(fuel)'")) }
            guard let memory = values["wasm-memory"], let bytes = UInt64(memory), bytes >= 65536 else {
                return .failure(UsageError("--wasm-fuel needs --wasm-memory with the most bytes the module's memory may grow to (at least 65536)"))
            }
            options.wasmFuel = units
            options.wasmMemoryLimit = bytes
        } else if values["wasm-memory"] != nil {
            return .failure(UsageError("--wasm-memory applies to a WebAssembly module, which --wasm-fuel marks"))
        }
        if let status = values["sandbox-status-fd"] {
            guard let hex = values["sandbox-spec"], let bytes = bytes(hex: hex), let spec = try? SandboxSpec(encoded: bytes) else {
                return .failure(UsageError("--sandbox-status-fd needs --sandbox-spec with the spec the outer runner received"))
            }
            options.sandboxSpec = spec
            guard let fd = Int32(status), fd >= 0 else { return .failure(UsageError("--sandbox-status-fd must be a file descriptor number; got '\(status)'")) }
            options.sandboxStatusFD = fd
            options.sandboxNamespaces = (values["sandbox-namespaces"] ?? "").split(separator: ",").map(String.init)
        }
        return .success(options)
    }
}

struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
