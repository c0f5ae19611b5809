/// What the sandbox of one run is made of. The host makes it (PluginHost's `PreparedSandbox`)
/// and sends it in `welcome`, right after it has authenticated the runner; the runner's init,
/// which the runner re-executes in the new PID namespace, gets the same bytes as an argument
/// (`encoded`/`init(encoded:)`). One type and one binary encoding on both sides: the payload
/// rules of `Message` (bounded strings and lists, canonical forms, no trailing bytes).
public struct SandboxSpec: Sendable, Equatable, Hashable {
    /// A user and group, as the runner switches to them; also the user the host gives a module
    /// (PluginHostStore's `ModuleUsers`).
    public struct User: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
        public var uid: UInt32
        public var gid: UInt32

        public init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }

        /// nobody:nogroup on Debian and Raspberry Pi OS.
        public static let nobody = User(uid: 65534, gid: 65534)
        /// uid 0 (a module whose manifest asks for `capabilities.root`, allowed at install).
        public static let root = User(uid: 0, gid: 0)

        /// `uid:gid`.
        public var description: String { "\(uid):\(gid)" }
    }

    /// What the sandbox's syscall filter does with a call it stops (plugin-host-runner's
    /// SyscallFilter.swift).
    public enum SyscallFilter: UInt8, Sendable, Equatable, Hashable, CaseIterable {
        /// No filter.
        case off = 0
        /// The call fails with EPERM, and is counted.
        case enforce = 1
        /// The call runs, and is counted: what a module would hit under `enforce`.
        case log = 2
    }

    /// The module's files on the host: bound read-only at /module.
    public var moduleDirectory: String
    /// The module's data on the host: bound read-write at /data.
    public var dataDirectory: String
    /// false: a network namespace of its own, with only the loopback interface.
    public var network: Bool
    public var hostname: String
    /// cgroup directories the runner joins (writes its pid to `cgroup.procs`) before it creates
    /// any namespace; the host made them and set their limits.
    public var cgroups: [String]
    /// RLIMIT_NOFILE (soft and hard); nil leaves it as inherited.
    public var openFiles: UInt64?
    /// nil: the module runs as uid 0 without any capability; else as this user, which must be able
    /// to write the data directory (the runner reports it if not).
    public var user: User?
    /// The size of the tmpfs at /tmp (charged to the module's memory cgroup).
    public var temporaryBytes: UInt64
    /// More host paths bound read-only at the same path (libraries the module needs elsewhere).
    public var readOnlyPaths: [String]
    /// true: a part of the sandbox that the kernel refuses stops the run (runner exit status 5,
    /// `RunnerExitStatus.sandboxFailed`) instead of being reported and skipped.
    public var strict: Bool
    /// The syscall filter, installed after the sandbox is built and before module code runs.
    public var syscallFilter: SyscallFilter
    /// The I2C addresses the filter lets `ioctl(fd, I2C_SLAVE, address)` select (the addresses
    /// the manifest declares).
    public var i2cAddresses: [UInt16]

    /// The most cgroup directories and read-only paths a spec carries.
    public static let maxCgroups = 16
    public static let maxReadOnlyPaths = 32
    /// The most I2C addresses a spec carries (every 7-bit address but the reserved ones fits).
    public static let maxI2CAddresses = 128

    public init(moduleDirectory: String, dataDirectory: String, network: Bool, hostname: String, cgroups: [String] = [],
                openFiles: UInt64? = nil, user: User? = nil, temporaryBytes: UInt64 = 16 << 20, readOnlyPaths: [String] = [], strict: Bool = false,
                syscallFilter: SyscallFilter = .enforce, i2cAddresses: [UInt16] = []) {
        self.moduleDirectory = moduleDirectory
        self.dataDirectory = dataDirectory
        self.network = network
        self.hostname = hostname
        self.cgroups = cgroups
        self.openFiles = openFiles
        self.user = user
        self.temporaryBytes = temporaryBytes
        self.readOnlyPaths = readOnlyPaths
        self.strict = strict
        self.syscallFilter = syscallFilter
        self.i2cAddresses = i2cAddresses
    }

    /// The spec's bytes, as `welcome` carries them.
    /// - Throws: `ProtocolError.outOfBounds` / `.invalidString` for a field beyond its bound.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        var writer = PayloadWriter()
        try write(to: &writer)
        return writer.bytes
    }

    /// Decodes `encoded()`'s bytes, all of them.
    /// - Throws: `ProtocolError`; never anything else, whatever the bytes.
    public init(encoded bytes: [UInt8]) throws(ProtocolError) {
        let decoded = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) -> SandboxSpec in
                var reader = PayloadReader(raw)
                let spec = try SandboxSpec(reading: &reader)
                try reader.finish()
                return spec
            }
        }
        self = try decoded.get()
    }

    func write(to writer: inout PayloadWriter) throws(ProtocolError) {
        try writer.string(moduleDirectory, field: "moduleDirectory")
        try writer.string(dataDirectory, field: "dataDirectory")
        writer.bool(network)
        try writer.string(hostname, field: "hostname")
        try writer.strings(cgroups, limit: Self.maxCgroups, field: "cgroups")
        writer.bool(openFiles != nil)
        if let openFiles { writer.u64(openFiles) }
        writer.bool(user != nil)
        if let user {
            writer.u32(user.uid)
            writer.u32(user.gid)
        }
        writer.u64(temporaryBytes)
        try writer.strings(readOnlyPaths, limit: Self.maxReadOnlyPaths, field: "readOnlyPaths")
        writer.bool(strict)
        writer.u8(syscallFilter.rawValue)
        guard i2cAddresses.count <= Self.maxI2CAddresses else {
            throw .outOfBounds(field: "i2cAddresses", value: i2cAddresses.count, limit: Self.maxI2CAddresses)
        }
        writer.u8(UInt8(i2cAddresses.count))
        for address in i2cAddresses { writer.u16(address) }
    }

    init(reading reader: inout PayloadReader) throws(ProtocolError) {
        moduleDirectory = try reader.string("moduleDirectory")
        dataDirectory = try reader.string("dataDirectory")
        network = try reader.bool("network")
        hostname = try reader.string("hostname")
        cgroups = try reader.strings(limit: Self.maxCgroups, "cgroups")
        openFiles = try reader.bool("openFiles present") ? try reader.u64("openFiles") : nil
        user = try reader.bool("user present") ? User(uid: try reader.u32("uid"), gid: try reader.u32("gid")) : nil
        temporaryBytes = try reader.u64("temporaryBytes")
        readOnlyPaths = try reader.strings(limit: Self.maxReadOnlyPaths, "readOnlyPaths")
        strict = try reader.bool("strict")
        let filter = try reader.u8("syscallFilter")
        guard let syscallFilter = SyscallFilter(rawValue: filter) else { throw .invalidValue(field: "syscallFilter", value: UInt64(filter)) }
        self.syscallFilter = syscallFilter
        let count = Int(try reader.u8("i2cAddresses"))
        guard count <= Self.maxI2CAddresses else { throw .outOfBounds(field: "i2cAddresses", value: count, limit: Self.maxI2CAddresses) }
        var addresses: [UInt16] = []
        for _ in 0..<count { addresses.append(try reader.u16("I2C address")) }
        i2cAddresses = addresses
    }
}

extension PayloadWriter {
    /// A u8 count (at most `limit`) and the strings.
    mutating func strings(_ texts: [String], limit: Int, field: String) throws(ProtocolError) {
        guard texts.count <= limit else { throw .outOfBounds(field: field, value: texts.count, limit: limit) }
        u8(UInt8(texts.count))
        for text in texts { try string(text, field: field) }
    }
}

extension PayloadReader {
    /// A u8 count (checked against `limit`) and that many strings.
    mutating func strings(limit: Int, _ field: String) throws(ProtocolError) -> [String] {
        let count = Int(try u8(field))
        guard count <= limit else { throw .outOfBounds(field: field, value: count, limit: limit) }
        var texts: [String] = []
        for _ in 0..<count { texts.append(try string(field)) }
        return texts
    }
}
