#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PluginHost
import TestSupport

// sdk-bench delivery: what pulling module images from an OCI registry costs a device, against a
// real registry (Debian's docker-registry, CNCF distribution) on 127.0.0.1, in one run:
// - the bytes an update whose big layer did not change receives (counted at a proxy that
//   forwards every byte of the registry's answers, HTTP headers included, and as `pull --json`
//   reports the blobs it received);
// - the bytes a 20 MB layer costs over a link cut every 1 MB (counted at the proxy that cuts it);
// - pull throughput of `plugin-host pull` against `skopeo copy … dir:` of the same image;
// - the peak RSS of `plugin-host install REF` of an image with a 200 MB layer.
// Images are packed and signed as a publisher does (ImagePacker, as `plugin-host pack`), their
// layers incompressible bytes, and pushed with `skopeo copy`.

func runDeliveryBench(_ options: Options) throws {
    guard let registryExecutable = RegistryProcess.executable, let skopeo = Tool.onPath("skopeo") else {
        throw BenchError("delivery needs docker-registry and skopeo on PATH: run Scripts/ensure-registry.sh and Scripts/ensure-skopeo.sh (they install Debian's packages)")
    }
    guard let (host, library) = hostBinaries(for: "delivery") else { return }
    print("sdk-bench delivery (against docker-registry on 127.0.0.1; medians of \(options.rounds) rounds)")
    let root = try makeBenchDirectory(under: "/var/tmp", name: "sdk-bench-delivery")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let registry = try RegistryProcess(executable: registryExecutable, directory: root + "/registry")
    defer { registry.stop() }
    let images = try DeliveryImages(root: root, library: library, registry: registry, skopeo: skopeo)

    try benchUnchangedLayerUpdate(host: host, images: images, registry: registry, root: root)
    try benchCutLink(host: host, images: images, registry: registry, root: root)
    try benchPullThroughput(host: host, skopeo: skopeo, images: images, registry: registry, root: root, rounds: options.rounds)
    try benchInstallFromRegistry(host: host, images: images, registry: registry, root: root)
}

// MARK: - The four measures

/// v1 of a 20 MB module is in the content store; v2 has the same layer (same digest) and a new
/// config and manifest. Bytes from the registry for the pull of v2: at the proxy (everything,
/// HTTP headers included) and `pull --json`'s `received` (blob bytes only).
func benchUnchangedLayerUpdate(host: String, images: DeliveryImages, registry: RegistryProcess, root: String) throws {
    let proxy = try FaultProxy(upstreamPort: registry.port)
    defer { proxy.stop() }
    let state = root + "/state-update"
    let via = "127.0.0.1:\(proxy.port)"
    _ = try pull(host, images.reference(images.small, "1.0.0", at: via), state: state, insecure: via, log: root + "/update-v1")
    let before = forwarded(by: proxy)
    let run = try pull(host, images.reference(images.small, "1.0.1", at: via), state: state, insecure: via, json: true, log: root + "/update-v2")
    let atProxy = forwarded(by: proxy) - before
    struct Result: Decodable { var received: Int }
    let received = (try? JSONDecoder().decode(Result.self, from: Data(run.stdout.utf8)))?.received
    let goal = 10 << 10
    print("update whose \(mb(images.small.layerSize)) layer did not change: \(kb(atProxy)) from the registry at the proxy (HTTP included), "
        + "\(received.map { kb($0) } ?? "?") of blobs by pull --json (goal <= 10 KB): \(verdict(atProxy <= goal))")
}

/// The bytes `proxy` forwarded from the registry, once its count stays put for 100 ms (a pump
/// thread counts a buffer after writing it, so the client may have read it, and exited, first).
func forwarded(by proxy: FaultProxy) -> Int {
    var last = proxy.bytesFromRegistry
    for _ in 0..<20 {
        Thread.sleep(forTimeInterval: 0.1)
        let current = proxy.bytesFromRegistry
        if current == last { break }
        last = current
    }
    return last
}

/// A fresh pull of the 20 MB image through a proxy that closes each connection after 1 MiB from
/// the registry: bytes the proxy forwarded (every request, headers included) / the layer's size.
func benchCutLink(host: String, images: DeliveryImages, registry: RegistryProcess, root: String) throws {
    let proxy = try FaultProxy(upstreamPort: registry.port)
    defer { proxy.stop() }
    proxy.faults.cutAfter = 1 << 20
    let via = "127.0.0.1:\(proxy.port)"
    let run = try pull(host, images.reference(images.small, "1.0.0", at: via), state: root + "/state-cut", insecure: via, log: root + "/cut")
    let bytes = forwarded(by: proxy)
    let ratio = Double(bytes) / Double(images.small.layerSize)
    print("\(mb(images.small.layerSize)) layer over a link cut every 1 MB: \(proxy.connections) connections, \(mb(bytes)) forwarded, "
        + "\(String(format: "%.3f", ratio)) x the layer (goal <= 1.10): \(verdict(ratio <= 1.10)) (pull took \(format(run.seconds, "s")), retry pauses included)")
}

/// The 200 MB image into an empty directory, `plugin-host pull` (into a fresh state directory)
/// against `skopeo copy docker://… dir:…`, alternating, each round; throughput = the image's
/// bytes (manifest, config, layer) / wall time of the process.
func benchPullThroughput(host: String, skopeo: URL, images: DeliveryImages, registry: RegistryProcess, root: String, rounds: Int) throws {
    var ours: [Double] = [], theirs: [Double] = []
    let bytes = Double(images.big.totalSize)
    for round in 0..<max(rounds, 1) {
        let state = root + "/state-throughput-\(round)"
        let run = try pull(host, images.reference(images.big, "1.0.0", at: registry.address), state: state, insecure: registry.address, log: root + "/throughput")
        ours.append(bytes / run.seconds)
        try? FileManager.default.removeItem(atPath: state)
        let target = root + "/skopeo-\(round)"
        let copy = try runLogged(skopeo.path, ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                                               "docker://\(images.reference(images.big, "1.0.0", at: registry.address))", "dir:\(target)"],
                                 log: root + "/skopeo-pull")
        guard copy.status == 0 else { throw BenchError("skopeo copy from the registry exited with \(copy.status): \(copy.stderr)") }
        theirs.append(bytes / copy.seconds)
        try? FileManager.default.removeItem(atPath: target)
    }
    let o = median(ours), s = median(theirs)
    print("pull throughput, \(mb(images.big.totalSize)) image: plugin-host pull \(format(o / 1_048_576, "MB/s")), skopeo copy to dir: \(format(s / 1_048_576, "MB/s")), "
        + "ratio \(String(format: "%.2f", o / s)) (goal >= 1.0): \(verdict(o / s >= 1.0)) (each into an empty directory on the same disk)")
}

/// `plugin-host install REF` of the 200 MB image into a fresh state directory that trusts the
/// key: pull, verify, unpack, start the module and judge its health. Peak RSS as
/// InstallBench measures it (spawnAndWait: wait4's ru_maxrss of the process and its children).
/// The pull alone (into another fresh state directory) is measured too, of this image and of the
/// 20 MB one, to tell its share and whether it grows with the layer.
func benchInstallFromRegistry(host: String, images: DeliveryImages, registry: RegistryProcess, root: String) throws {
    let reference = images.reference(images.big, "1.0.0", at: registry.address)
    /// Peak RSS in MB of `plugin-host <arguments> --state-dir <fresh> --insecure-registry …`.
    func peakRSS(_ name: String, _ arguments: [String]) throws -> Double {
        let state = root + "/state-" + name
        try TrustStore(stateDirectory: state).add(images.key.publicKey)
        let log = root + "/" + name + ".log"
        let (status, maxRSSKiB) = try spawnAndWait(host, arguments + ["--state-dir", state, "--insecure-registry", registry.address], log: log)
        guard status == 0 else {
            throw BenchError("plugin-host \(arguments[0]) from the registry exited with \(status): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        try? FileManager.default.removeItem(atPath: state)
        return Double(maxRSSKiB) / 1024
    }
    let install = try peakRSS("install", ["install", reference, "--no-sandbox"])
    let pull = try peakRSS("pull-big", ["pull", reference])
    let smallPull = try peakRSS("pull-small", ["pull", images.reference(images.small, "1.0.0", at: registry.address)])
    print("install REF peak RSS, \(mb(images.big.layerSize)) layer: \(format(install, "MB")) (goal <= 16 MB): \(verdict(install <= 16)); "
        + "pull alone: \(format(pull, "MB")) (\(mb(images.small.layerSize)) layer: \(format(smallPull, "MB")))")
}

// MARK: - Images

/// The bench's images, pushed to the registry: `delivery/small` 1.0.0 and 1.0.1 (a 20 MB file
/// beside the module's library, the same files in both, so one layer digest) and `delivery/big`
/// 1.0.0 (a 200 MB file).
struct DeliveryImages {
    struct Image {
        var repository: String
        /// The layer's size, and the manifest's + config's + layer's.
        var layerSize: Int
        var totalSize: Int
    }

    let key = ModuleSigningKey()
    var small = Image(repository: "delivery/small", layerSize: 0, totalSize: 0)
    var big = Image(repository: "delivery/big", layerSize: 0, totalSize: 0)

    init(root: String, library: String, registry: RegistryProcess, skopeo: URL) throws {
        small = try push("small", versions: ["1.0.0", "1.0.1"], dataBytes: 20 << 20)
        big = try push("big", versions: ["1.0.0"], dataBytes: 200 << 20)

        /// Packs the module directory once per version (only module.json changes) into an image
        /// layout and pushes it as `delivery/<name>:<version>`; the sizes are the first version's.
        func push(_ name: String, versions: [String], dataBytes: Int) throws -> Image {
            let directory = root + "/module-" + name
            try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: library, toPath: directory + "/lib/libExampleModuleC.so")
            try writePseudoRandomFile(directory + "/data.bin", bytes: dataBytes)
            var image = Image(repository: "delivery/" + name, layerSize: 0, totalSize: 0)
            for version in versions {
                var manifest = exampleManifest(id: "com.example.delivery-" + name, stabilityWindowSeconds: 0, maxRestarts: 1)
                guard let parsed = SemanticVersion(version) else { throw BenchError("'\(version)' is not a version") }
                manifest.version = parsed
                try manifest.canonicalJSON().write(to: URL(fileURLWithPath: directory + "/module.json"))
                let layout = root + "/image-\(name)-\(version)"
                try ImagePacker.write(try ImagePacker(signingKey: key).pack(moduleDirectory: directory), to: layout)
                if image.layerSize == 0 {
                    // The layout's blobs: the layer is the largest, and the index.json is not one.
                    let blobs = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256").map {
                        (try FileManager.default.attributesOfItem(atPath: layout + "/blobs/sha256/" + $0)[.size] as? Int) ?? 0
                    }
                    image.layerSize = blobs.max() ?? 0
                    image.totalSize = blobs.reduce(0, +)
                }
                let push = try runLogged(skopeo.path, ["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                                                       "oci:\(layout):\(version)", "docker://\(registry.address)/\(image.repository):\(version)"],
                                         log: root + "/push")
                guard push.status == 0 else { throw BenchError("skopeo copy to the registry exited with \(push.status): \(push.stderr)") }
                try FileManager.default.removeItem(atPath: layout)
            }
            try FileManager.default.removeItem(atPath: directory)
            return image
        }
    }

    func reference(_ image: Image, _ tag: String, at address: String) -> String {
        "\(address)/\(image.repository):\(tag)"
    }
}

// MARK: - Processes

/// `plugin-host pull REF` into `state`; throws unless it exits 0.
func pull(_ host: String, _ reference: String, state: String, insecure: String, json: Bool = false, log: String) throws -> (stdout: String, seconds: Double) {
    let run = try runLogged(host, ["pull", reference, "--state-dir", state, "--insecure-registry", insecure] + (json ? ["--json"] : []), log: log)
    guard run.status == 0 else { throw BenchError("plugin-host pull \(reference) exited with \(run.status): \(run.stderr)") }
    return (run.stdout, run.seconds)
}

/// Runs a tool with its standard output and error in files (`log`.out, `log`.err: a pull's
/// progress can fill a pipe nobody reads yet) and returns its status, both texts and its wall time.
func runLogged(_ path: String, _ arguments: [String], log: String) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
    for suffix in [".out", ".err"] where !FileManager.default.createFile(atPath: log + suffix, contents: nil) {
        throw BenchError("cannot create \(log + suffix)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle(forWritingAtPath: log + ".out")
    process.standardError = FileHandle(forWritingAtPath: log + ".err")
    let start = ContinuousClock.now
    try process.run()
    process.waitUntilExit()
    let elapsed = seconds(ContinuousClock.now - start)
    func text(_ suffix: String) -> String { (try? String(contentsOfFile: log + suffix, encoding: .utf8)) ?? "" }
    return (process.terminationStatus, text(".out"), text(".err"), elapsed)
}

// MARK: - Figures

func verdict(_ met: Bool) -> String { met ? "met" : "NOT met" }

func kb(_ bytes: Int) -> String { "\(bytes) bytes (\(format(Double(bytes) / 1024, "KB")))" }

func mb(_ bytes: Int) -> String { format(Double(bytes) / 1_048_576, "MB") }
