internal import CIoTCurl
import PluginHostImages

/// One HTTP request through libcurl (loaded on first use: `CIoTCurl`), its response headers
/// collected and its body handed to a sink chunk by chunk, never held whole.
///
/// Redirects are followed (registries hand blobs to object storage), at most 10; libcurl does not
/// send an `Authorization` header it was given to another host. Proxies come from the
/// environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), as libcurl reads them. A transfer
/// slower than 1 KiB/s for `stallSeconds` is abandoned, so a stalled link ends in a retry, not a hang.
struct HTTPRequest {
    enum Method: String { case get = "GET", head = "HEAD" }

    var method: Method = .get
    var url: String
    var headers: [String] = []
    /// Ask for the bytes from this offset on (`Range: bytes=N-`).
    var resumeFrom: UInt64 = 0
    /// A PEM file of the CAs to trust instead of the system's.
    var caFile: String?
    var connectTimeoutSeconds = 30
    /// Abandon the transfer when it moves less than 1 KiB/s for this long.
    var stallSeconds = 60
}

struct HTTPResponse {
    var status: Int
    /// Header names in lower case; the last value of a repeated header (of the final response,
    /// after redirects).
    var headers: [String: String]
    /// Where the body came from after redirects.
    var effectiveURL: String

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A failure below HTTP: no connection, TLS, a stalled transfer, a refused write to the sink.
struct TransportError: Error, CustomStringConvertible {
    var message: String
    /// Whether another try may work: the link failed (no route, refused, reset, timed out, cut
    /// short), not TLS or a bad URL, which fail the same way every time.
    var retryable = false
    /// The sink refused the data (disk full, a blob larger than its descriptor): not worth a retry.
    var fromSink: ModuleError?
    var description: String { message }
}

/// The receiving end of a body: `begin` learns the status and headers of the response whose body
/// follows (after redirects and 401s, a request may see several), `write` gets each chunk; a
/// thrown error aborts the transfer.
protocol HTTPSink: AnyObject {
    func begin(status: Int, headers: [String: String]) throws(ModuleError)
    func write(_ chunk: UnsafeRawBufferPointer) throws(ModuleError)
}

/// libcurl's easy handle, reused across requests to the same registry (connections stay open).
final class HTTPClient {
    private let handle: UnsafeMutableRawPointer

    /// - Throws: `ModuleError` `.network` when libcurl cannot be loaded.
    init() throws(ModuleError) {
        var error = [CChar](repeating: 0, count: 256)
        guard ciot_curl_load(&error, error.count) == 0 else {
            throw ModuleError(.network, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        guard let handle = ciot_curl_easy_init() else { throw ModuleError(.network, "libcurl could not make a transfer handle (out of memory)") }
        self.handle = handle
    }

    deinit { ciot_curl_easy_cleanup(handle) }

    /// Performs `request`; the body goes to `sink` (nil: discarded).
    func perform(_ request: HTTPRequest, into sink: HTTPSink?) throws(TransportError) -> HTTPResponse {
        ciot_curl_easy_reset(handle)
        let state = TransferState(sink: sink)
        let context = Unmanaged.passRetained(state).toOpaque()
        defer { Unmanaged<TransferState>.fromOpaque(context).release() }

        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { list = ciot_curl_slist_append(list, header) }
        defer { ciot_curl_slist_free_all(list) }

        _ = ciot_curl_setopt_string(handle, CURLOPT_URL, request.url)
        _ = ciot_curl_setopt_list(handle, CURLOPT_HTTPHEADER, list)
        _ = ciot_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
        _ = ciot_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
        // Only HTTP and HTTPS, also after a redirect (the names from libcurl 7.85, the bit masks before).
        if ciot_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK {
            _ = ciot_curl_setopt_long(handle, CURLoption(rawValue: 181) /* CURLOPT_PROTOCOLS */, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        }
        if ciot_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK {
            _ = ciot_curl_setopt_long(handle, CURLoption(rawValue: 182) /* CURLOPT_REDIR_PROTOCOLS */, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        }
        _ = ciot_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, request.connectTimeoutSeconds)
        _ = ciot_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
        _ = ciot_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, request.stallSeconds)
        _ = ciot_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ciot_curl_setopt_string(handle, CURLOPT_USERAGENT, "plugin-host")
        if let caFile = request.caFile { _ = ciot_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        if request.method == .head { _ = ciot_curl_setopt_long(handle, CURLOPT_NOBODY, 1) }
        if request.resumeFrom > 0 { _ = ciot_curl_setopt_offset(handle, CURLOPT_RESUME_FROM_LARGE, curl_off_t(request.resumeFrom)) }
        _ = ciot_curl_set_header_callback(handle, { data, size, count, context in
            let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
            state.header(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }, context)
        _ = ciot_curl_set_write_callback(handle, { data, size, count, context in
            let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
            return state.body(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }, context)

        let code = ciot_curl_easy_perform(handle)
        var status = 0
        _ = ciot_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafePointer<CChar>?
        _ = ciot_curl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        if code != CURLE_OK {
            if let failure = state.sinkFailure {
                throw TransportError(message: failure.message, fromSink: failure)
            }
            let reason = String(cString: ciot_curl_easy_strerror(code))
            let transient: Set<CURLcode> = [CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
                                             CURLE_PARTIAL_FILE, CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING, CURLE_SEND_ERROR,
                                             CURLE_RECV_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR]
            var message = "\(request.method.rawValue) \(request.url): \(reason)"
            if [CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE].contains(code) {
                message += " (a registry that speaks plain HTTP must be listed with --insecure-registry; one with a certificate from a private CA needs --registry-ca host=ca.pem)"
            }
            throw TransportError(message: message, retryable: transient.contains(code))
        }
        return HTTPResponse(status: status, headers: state.headers, effectiveURL: effective.map { String(cString: $0) } ?? request.url)
    }
}

/// What the callbacks of one transfer share.
private final class TransferState {
    let sink: HTTPSink?
    var headers: [String: String] = [:]
    var sinkFailure: ModuleError?
    /// Whether the current response is the final one (not a redirect or a 100 Continue), so that
    /// its body, and not a redirect's, reaches the sink.
    private var status = 0

    init(sink: HTTPSink?) { self.sink = sink }

    func header(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self).trimmingSuffixNewline()
        if text.hasPrefix("HTTP/") {
            // A new response (after a redirect): its headers replace the last one's.
            headers = [:]
            begun = false
            status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        let value = text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        headers[name] = String(value)
    }

    /// Whether `begin` was called for the current response.
    private var begun = false

    func body(_ chunk: UnsafeRawBufferPointer) -> Bool {
        // The body of a redirect is not the resource.
        if (300..<400).contains(status) && headers["location"] != nil { return true }
        guard let sink else { return true }
        do {
            if !begun {
                begun = true
                try sink.begin(status: status, headers: headers)
            }
            try sink.write(chunk)
            return true
        } catch {
            sinkFailure = error
            return false
        }
    }
}

private extension String {
    func trimmingSuffixNewline() -> String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
