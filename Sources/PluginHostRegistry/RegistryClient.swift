#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import PluginHostImages
import PluginHostStore

/// How a pull reaches registries.
public struct RegistryOptions: Sendable {
    /// Auth files to read credentials from, in order; nil: `Credentials.defaultFiles()`.
    public var authFiles: [String]?
    /// Registries (`host[:port]`, as written in references) spoken to in plain HTTP. Every other
    /// one is HTTPS, with the system's CAs or the one in `caFiles`.
    public var insecureRegistries: Set<String> = []
    /// A PEM file of CAs per registry (`host[:port]`), instead of the system's.
    public var caFiles: [String: String] = [:]
    /// The platform whose manifest is picked from an image index.
    public var platform: Platform = .current
    /// Attempts per request when the link fails (the first one included), and the first pause
    /// between them; each later pause doubles, with up to half of it again at random.
    /// A download that made progress starts its count of attempts again: a link that drops every
    /// few megabytes still delivers a large layer.
    public var attempts = 5
    public var firstRetryDelay: Duration = .seconds(1)
    /// A transfer that moves less than 1 KiB/s for this long is abandoned (and retried).
    public var stallSeconds = 60

    public init() {}
}

/// What a pull fetched: the image manifest chosen for this platform, in the content store with
/// everything it refers to, each blob checked against its digest and size.
public struct PulledImage: Sendable {
    public var reference: ImageReference
    /// The image manifest (what is verified and installed).
    public var manifest: OCI.Descriptor
    /// The index the manifest was chosen from, if the reference named one.
    public var index: Digest?
    /// The blobs the manifest refers to (config and layers) and the bytes actually received for
    /// them (0 for those already in the store).
    public var blobs: [(descriptor: OCI.Descriptor, received: UInt64)]

    /// The image as the verifier reads it.
    public func source(in store: ContentStore) throws(ModuleError) -> ImageSource {
        try ImageSource.contentStore(store.root, manifest: manifest, location: reference.description)
    }
}

/// What `plugin-host pull --json` prints when it is done, and what the running host reads back
/// from the pull that checks a channel.
public struct PullReport: Codable, Sendable, Equatable {
    /// The reference as pulled (with the digest it was pinned to, if any).
    public var reference: String
    /// What the reference pointed at (an index's digest for a multi-platform image).
    public var digest: String
    /// With `--unless-at`: the tag had not moved, nothing was pulled.
    public var unchanged: Bool
    /// The image manifest chosen for this device; nil when `unchanged`.
    public var manifest: String?
    public var index: String?
    public var blobs: Int
    /// Bytes received for the blobs (0 for those already in the store).
    public var received: UInt64

    /// The report of a pull of `reference` that found `digest`; `pulled` nil: nothing pulled.
    public init(reference: String, digest: Digest, pulled: PulledImage?) {
        self.reference = pulled?.reference.description ?? reference
        self.digest = digest.description
        unchanged = pulled == nil
        manifest = pulled?.manifest.digest.description
        index = pulled?.index?.description
        blobs = pulled?.blobs.count ?? 0
        received = pulled?.blobs.reduce(UInt64(0)) { $0 + $1.received } ?? 0
    }
}

/// What a pull reports as it goes, for progress lines.
public enum PullEvent: Sendable {
    /// A blob is already in the content store.
    case blobPresent(OCI.Descriptor)
    /// A download starts, from `offset` (a resumed partial file) of `descriptor.size` bytes.
    case blobStarted(OCI.Descriptor, offset: UInt64)
    /// Bytes of the blob so far.
    case blobProgress(OCI.Descriptor, bytes: UInt64)
    case blobDone(OCI.Descriptor, received: UInt64)
    /// The link failed; the request is tried again after `delay`.
    case retrying(String, attempt: Int, delay: Duration)
}

/// An OCI Distribution (v1.1) client: manifests and blobs of one registry's repositories, with
/// anonymous, basic and bearer-token auth, over libcurl.
public final class RegistryClient {
    private let options: RegistryOptions
    private let http: HTTPClient
    /// Bearer tokens by "registry repository".
    private var tokens: [String: String] = [:]
    /// Registries that asked for basic auth: their credentials go with every request.
    private var basic: [String: Credentials] = [:]
    /// Where the pull under way reports retries.
    private var progress: (PullEvent) -> Void = { _ in }

    static let manifestMediaTypes = [
        OCI.manifestMediaType, OCI.indexMediaType,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let dockerListMediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// The largest manifest or index read: containerd's limit.
    static let maxDocumentBytes = 4 << 20

    public init(options: RegistryOptions = RegistryOptions()) throws(ModuleError) {
        self.options = options
        http = try HTTPClient()
    }

    // MARK: Pulling

    /// Fetches the image `reference` names into `store`: the manifest (for this platform, if the
    /// reference names an index), its config and layers. Blobs already in the store are not
    /// fetched; a partial download resumes where it stopped.
    public func pull(_ reference: ImageReference, into store: ContentStore, progress: @escaping (PullEvent) -> Void = { _ in }) throws(ModuleError) -> PulledImage {
        self.progress = progress
        defer { self.progress = { _ in } }
        try store.prepare()
        var document = try fetchManifest(reference, reference.manifestReference)
        var indexDigest: Digest?
        if document.mediaType == OCI.indexMediaType || document.mediaType == Self.dockerListMediaType {
            indexDigest = document.digest
            let chosen = try choosePlatform(document, reference)
            try store.store(document.bytes, as: document.digest)
            document = try fetchManifest(reference, chosen.digest.description)
            guard document.digest == chosen.digest else {
                throw ModuleError(.digestMismatch, "the registry sent a manifest with digest \(document.digest) for \(chosen.digest) of \(reference)", field: "manifest")
            }
        }
        guard document.mediaType == OCI.manifestMediaType else {
            throw ModuleError(.unsupportedMediaType, "\(reference) is a '\(document.mediaType)', not an OCI image manifest (\(OCI.manifestMediaType)): push a module image made by `plugin-host pack` (skopeo copy oci-archive:IMAGE.tar docker://…)", field: "manifest")
        }
        let manifest: OCI.Manifest
        do { manifest = try JSONDecoder().decode(OCI.Manifest.self, from: Data(document.bytes)) } catch {
            throw ModuleError(.registry, "the manifest of \(reference) is not a valid OCI image manifest", field: "manifest", underlying: "\(error)")
        }
        try store.store(document.bytes, as: document.digest)
        var blobs: [(descriptor: OCI.Descriptor, received: UInt64)] = []
        for descriptor in [manifest.config] + manifest.layers {
            blobs.append((descriptor, try fetchBlob(reference, descriptor, into: store, progress: progress)))
        }
        let descriptor = OCI.Descriptor(mediaType: OCI.manifestMediaType, digest: document.digest, size: Int64(document.bytes.count))
        return PulledImage(reference: reference, manifest: descriptor, index: indexDigest, blobs: blobs)
    }

    /// The digest `reference`'s tag points at now (a HEAD request: no manifest bytes), for
    /// following a channel.
    public func currentDigest(of reference: ImageReference) throws(ModuleError) -> Digest {
        if let digest = reference.digest { return digest }
        let response = try request(reference, path: "manifests/" + reference.manifestReference, method: .head,
                                   accept: Self.manifestMediaTypes, sink: nil)
        try check(response, reference, what: "tag \(reference.manifestReference)")
        guard let text = response.header("Docker-Content-Digest"), let digest = Digest(text) else {
            // No digest header: the manifest itself tells.
            return try fetchManifest(reference, reference.manifestReference).digest
        }
        return digest
    }

    // MARK: Manifests

    struct Document {
        var bytes: [UInt8]
        var mediaType: String
        var digest: Digest
    }

    private func fetchManifest(_ reference: ImageReference, _ name: String) throws(ModuleError) -> Document {
        let sink = MemorySink(limit: Self.maxDocumentBytes, what: "the manifest \(name) of \(reference.registry)/\(reference.repository)")
        let response = try request(reference, path: "manifests/" + name, method: .get, accept: Self.manifestMediaTypes, sink: sink)
        try check(response, reference, what: name.hasPrefix("sha256:") ? "manifest \(name)" : "tag \(name)")
        let digest = Digest.sha256(of: sink.bytes)
        if let expected = Digest(name), expected != digest {
            throw ModuleError(.digestMismatch, "the registry sent a manifest whose digest is \(digest) for \(expected) of \(reference): it is damaged or was changed on the way", field: "manifest")
        }
        if let header = response.header("Docker-Content-Digest"), let claimed = Digest(header), claimed != digest {
            throw ModuleError(.digestMismatch, "the manifest of \(reference) has digest \(digest), but the registry says \(claimed): it is damaged or was changed on the way", field: "manifest")
        }
        struct MediaType: Decodable { var mediaType: String? }
        let declared = (try? JSONDecoder().decode(MediaType.self, from: Data(sink.bytes)))?.mediaType
        let contentType = response.header("Content-Type").map { String($0.split(separator: ";")[0]).trimmed }
        guard let mediaType = declared ?? contentType else {
            throw ModuleError(.registry, "the manifest of \(reference) says neither in its mediaType nor in Content-Type what it is", field: "manifest")
        }
        return Document(bytes: sink.bytes, mediaType: mediaType, digest: digest)
    }

    private func choosePlatform(_ document: Document, _ reference: ImageReference) throws(ModuleError) -> OCI.Descriptor {
        let index: OCI.Index
        do { index = try JSONDecoder().decode(OCI.Index.self, from: Data(document.bytes)) } catch {
            throw ModuleError(.registry, "the image index of \(reference) is not valid", field: "index", underlying: "\(error)")
        }
        let wanted = options.platform
        let ranked = index.manifests.compactMap { entry in entry.platform.flatMap(wanted.rank(of:)).map { (entry, $0) } }
        guard let best = ranked.min(by: { $0.1 < $1.1 })?.0 else {
            let offered = index.manifests.compactMap(\.platform).map(\.description)
            throw ModuleError(.noPlatform, "\(reference) has no image for this device (\(wanted)); it has: \(offered.isEmpty ? "no platform entries" : offered.joined(separator: ", ")). Push one built for \(wanted) (`plugin-host pack --platform \(wanted)`, then `plugin-host index`)", field: "index")
        }
        return OCI.Descriptor(mediaType: best.mediaType, digest: best.digest, size: best.size)
    }

    // MARK: Blobs

    /// Fetches one blob into the store unless it is there; the bytes received.
    private func fetchBlob(_ reference: ImageReference, _ descriptor: OCI.Descriptor, into store: ContentStore, progress: @escaping (PullEvent) -> Void) throws(ModuleError) -> UInt64 {
        if store.contains(descriptor.digest) {
            progress(.blobPresent(descriptor))
            return 0
        }
        guard descriptor.size >= 0 else {
            throw ModuleError(.registry, "the manifest of \(reference) gives blob \(descriptor.digest) a negative size", field: "manifest")
        }
        let download = try BlobDownload(store: store, descriptor: descriptor, progress: progress)
        defer { download.close() }
        var received: UInt64 = 0
        // A digest mismatch after a resumed download may be the old partial bytes: once more from zero.
        for pass in 0..<2 {
            if download.written < UInt64(descriptor.size) {
                progress(.blobStarted(descriptor, offset: download.written))
                let before = download.written
                let response = try request(reference, path: "blobs/" + descriptor.digest.description, method: .get, accept: [], sink: download)
                received += download.written >= before ? download.written - before : download.written
                try check(response, reference, what: "blob \(descriptor.digest)")
            }
            if try download.finish() {
                progress(.blobDone(descriptor, received: received))
                return received
            }
            guard pass == 0 else { break }
            try download.reset()
        }
        throw ModuleError(.digestMismatch, "blob \(descriptor.digest) of \(reference) arrived with other content twice: the registry stores it damaged, or something on the way changes it", field: descriptor.digest.blobPath)
    }

    // MARK: Requests and auth

    private func baseURL(_ registry: String) -> String {
        let host = registry == ImageReference.dockerHub ? "registry-1.docker.io" : registry
        return (options.insecureRegistries.contains(registry) ? "http://" : "https://") + host
    }

    /// One request to `reference`'s repository, with auth (a 401 is answered once with the
    /// credentials or token it asks for) and retries with backoff when the link fails.
    private func request(_ reference: ImageReference, path: String, method: HTTPRequest.Method, accept: [String], sink: HTTPSink?) throws(ModuleError) -> HTTPResponse {
        let url = baseURL(reference.registry) + "/v2/" + reference.repository + "/" + path
        var authorized = false
        var attempt = 1
        var delay = options.firstRetryDelay
        while true {
            var request = HTTPRequest(method: method, url: url)
            if !accept.isEmpty { request.headers.append("Accept: " + accept.joined(separator: ", ")) }
            if let header = authorization(reference) { request.headers.append(header) }
            request.caFile = options.caFiles[reference.registry]
            request.stallSeconds = options.stallSeconds
            // A blob download asks for what its partial file lacks, again on each attempt.
            let download = sink as? BlobDownload
            let before = download?.written ?? 0
            if let download { request.resumeFrom = download.written }
            let response: HTTPResponse
            do {
                response = try http.perform(request, into: sink)
            } catch {
                if let refused = error.fromSink { throw refused }
                guard error.retryable else {
                    throw ModuleError(.network, "cannot use \(reference.registry): \(error.message); nothing was installed")
                }
                if let download, download.written > before {
                    // It got somewhere: the link works, if badly. Count again from here.
                    attempt = 1
                    delay = options.firstRetryDelay
                }
                guard attempt < options.attempts else {
                    throw ModuleError(.network, "cannot reach \(reference.registry) after \(attempt) attempts: \(error.message); the installed version is untouched: check the network and the registry, and try again")
                }
                let pause = delay + .milliseconds(Int64.random(in: 0...(delay.components.seconds * 500 + delay.components.attoseconds / 2_000_000_000_000_000)))
                progress(.retrying("\(method.rawValue) \(url): \(error.message)", attempt: attempt, delay: pause))
                Self.sleep(pause)
                attempt += 1
                delay *= 2
                continue
            }
            if response.status == 401, !authorized {
                authorized = true
                try authenticate(reference, challenge: response.header("WWW-Authenticate"))
                continue
            }
            if (response.status == 429 || response.status >= 500), attempt < options.attempts {
                progress(.retrying("\(method.rawValue) \(url): the registry answered \(response.status)", attempt: attempt, delay: delay))
                Self.sleep(delay)
                attempt += 1
                delay *= 2
                continue
            }
            return response
        }
    }

    private func authorization(_ reference: ImageReference) -> String? {
        if let token = tokens[reference.registry + " " + reference.repository] { return "Authorization: Bearer " + token }
        return basic[reference.registry]?.basicHeader
    }

    private func credentials(for registry: String) throws(ModuleError) -> Credentials? {
        try Credentials.find(for: registry, in: options.authFiles ?? Credentials.defaultFiles())
    }

    /// Answers a 401's challenge: basic credentials from the auth files, or a bearer token from
    /// the realm it names (with those credentials, if any).
    private func authenticate(_ reference: ImageReference, challenge: String?) throws(ModuleError) {
        let login = "log in with `skopeo login \(reference.registry)` (or give --authfile)"
        guard let challenge, let parsed = Challenge(challenge) else {
            throw ModuleError(.registry, "\(reference.registry) refused the request (401) without saying how to log in: \(login)")
        }
        let credentials = try credentials(for: reference.registry)
        switch parsed.scheme {
        case "basic":
            guard let credentials else { throw ModuleError(.registry, "\(reference.registry) needs a user name and password: \(login)") }
            basic[reference.registry] = credentials
        case "bearer":
            guard let realm = parsed.parameters["realm"] else {
                throw ModuleError(.registry, "\(reference.registry) asks for a bearer token but names no realm to get it from")
            }
            var query = [String]()
            if let service = parsed.parameters["service"] { query.append("service=" + Self.percentEncoded(service)) }
            query.append("scope=" + Self.percentEncoded(parsed.parameters["scope"] ?? "repository:\(reference.repository):pull"))
            var request = HTTPRequest(url: realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
            if let credentials { request.headers.append(credentials.basicHeader) }
            request.caFile = options.caFiles[reference.registry]
            let sink = MemorySink(limit: 1 << 20, what: "the token from \(realm)")
            let response: HTTPResponse
            do { response = try http.perform(request, into: sink) } catch {
                throw ModuleError(.network, "cannot reach the token service \(realm) of \(reference.registry): \(error.message)")
            }
            guard response.status == 200 else {
                throw ModuleError(.registry, "the token service \(realm) of \(reference.registry) refused (\(response.status)): \(credentials == nil ? login : "check the credentials in the auth file")")
            }
            struct Token: Decodable { var token: String?; var access_token: String? }
            guard let decoded = try? JSONDecoder().decode(Token.self, from: Data(sink.bytes)), let token = decoded.token ?? decoded.access_token, !token.isEmpty else {
                throw ModuleError(.registry, "the token service \(realm) of \(reference.registry) answered without a token")
            }
            tokens[reference.registry + " " + reference.repository] = token
        default:
            throw ModuleError(.registry, "\(reference.registry) asks for '\(parsed.scheme)' auth, which this host does not speak (basic and bearer)")
        }
    }

    /// Turns a status that is not success into the error that says what to do.
    private func check(_ response: HTTPResponse, _ reference: ImageReference, what: String) throws(ModuleError) {
        switch response.status {
        case 200, 206: return
        case 401: throw ModuleError(.registry, "\(reference.registry) refused \(what) of \(reference.repository) (401): log in with `skopeo login \(reference.registry)`, or check the credentials")
        case 403: throw ModuleError(.registry, "\(reference.registry) denies access to \(what) of \(reference.repository) (403): the account lacks pull rights on it")
        case 404: throw ModuleError(.registry, "\(reference.registry) has no \(what) in \(reference.repository) (404): check the repository and the tag (`skopeo list-tags docker://\(reference.registry)/\(reference.repository)`)")
        default: throw ModuleError(.registry, "\(reference.registry) answered \(response.status) for \(what) of \(reference.repository)")
        }
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    private static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var left = timespec()
        while nanosleep(&time, &left) == -1 && errno == EINTR { time = left }
    }
}

/// `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params).
struct Challenge {
    var scheme: String
    var parameters: [String: String]

    init?(_ text: String) {
        let trimmed = text.trimmed
        guard let space = trimmed.firstIndex(of: " ") else {
            guard !trimmed.isEmpty else { return nil }
            scheme = trimmed.lowercased()
            parameters = [:]
            return
        }
        scheme = trimmed[..<space].lowercased()
        parameters = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmed.lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    if character == "\\", rest.count > 1 { rest = rest.dropFirst() }
                    value.append(rest.first!)
                    rest = rest.dropFirst()
                }
                rest = rest.dropFirst()
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end]).trimmed
                rest = rest[end...]
            }
            parameters[name] = value
        }
    }
}

/// A small body (a manifest, a token) in memory, refused beyond `limit`.
final class MemorySink: HTTPSink {
    private(set) var bytes: [UInt8] = []
    let limit: Int
    let what: String

    init(limit: Int, what: String) {
        self.limit = limit
        self.what = what
    }

    /// Whether the body is the resource (a 2xx), not an error document.
    private var keeping = true

    func begin(status: Int, headers: [String: String]) throws(ModuleError) {
        bytes = []
        keeping = (200..<300).contains(status)
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(ModuleError) {
        guard keeping else { return }
        guard bytes.count + chunk.count <= limit else {
            throw ModuleError(.registry, "\(what) is larger than \(limit >> 20) MiB, more than a manifest can be: the registry answered with something else")
        }
        bytes.append(contentsOf: chunk)
    }
}
