/// What `plugin-host-runner probe-sandbox` found when it really tried the sandbox's kernel
/// features, as the runner sends it to the host (`Message.sandboxProbe`) for `plugin-host doctor`
/// and the running host: each namespace unshared in a child process, and `no_new_privs`.
public struct SandboxProbe: Sendable, Hashable {
    /// One namespace, by its /proc/self/ns name (`mnt`, `pid`, `ipc`, `uts`, `cgroup`, `net`, `user`).
    public struct Namespace: Sendable, Hashable {
        public var name: String
        /// Why `unshare` failed (the call and the kernel's error); nil when it worked.
        public var refusal: String?

        public init(name: String, refusal: String?) {
            self.name = name
            self.refusal = refusal
        }
    }

    public var namespaces: [Namespace]
    /// Why `prctl(PR_GET_NO_NEW_PRIVS)` failed; nil when it works.
    public var noNewPrivilegesRefusal: String?

    /// The most namespaces a probe reports.
    public static let maxNamespaces = 16

    public init(namespaces: [Namespace], noNewPrivilegesRefusal: String?) {
        self.namespaces = namespaces
        self.noNewPrivilegesRefusal = noNewPrivilegesRefusal
    }

    func write(to writer: inout PayloadWriter) throws(ProtocolError) {
        guard namespaces.count <= Self.maxNamespaces else {
            throw .outOfBounds(field: "probed namespaces", value: namespaces.count, limit: Self.maxNamespaces)
        }
        writer.u8(UInt8(namespaces.count))
        for namespace in namespaces {
            try writer.string(namespace.name, field: "namespace name")
            writer.bool(namespace.refusal != nil)
            if let refusal = namespace.refusal { try writer.string(refusal, field: "namespace refusal") }
        }
        writer.bool(noNewPrivilegesRefusal != nil)
        if let refusal = noNewPrivilegesRefusal { try writer.string(refusal, field: "no_new_privs refusal") }
    }

    init(reading reader: inout PayloadReader) throws(ProtocolError) {
        let count = Int(try reader.u8("probed namespaces"))
        guard count <= Self.maxNamespaces else {
            throw .outOfBounds(field: "probed namespaces", value: count, limit: Self.maxNamespaces)
        }
        namespaces = []
        for _ in 0..<count {
            let name = try reader.string("namespace name")
            let refusal = try reader.bool("namespace refusal present") ? try reader.string("namespace refusal") : nil
            namespaces.append(Namespace(name: name, refusal: refusal))
        }
        noNewPrivilegesRefusal = try reader.bool("no_new_privs refusal present") ? try reader.string("no_new_privs refusal") : nil
    }
}
