import CIoTLinux
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TestSupport

/// An HTTP/1.1 server on 127.0.0.1 that answers each request with what `respond` returns: a
/// registry that misbehaves on purpose (garbage, a document too large, a redirect loop), or one
/// that asks for a bearer token. One thread per connection; every answer closes its connection.
final class FakeRegistry: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Header names in lower case.
        var headers: [String: String]
    }

    struct Response: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: Data = Data()
    }

    private(set) var port = 0
    private var listener: Int32 = -1
    private let respond: @Sendable (Request) -> Response
    private let log = Mutex<[Request]>([])

    init(_ respond: @escaping @Sendable (Request) -> Response) throws {
        self.respond = respond
        (listener, port) = try Loopback.listen()
        Loopback.acceptEach(listener) { [self] client in serve(client) }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    var address: String { "127.0.0.1:\(port)" }
    /// The requests answered so far.
    var requests: [Request] { log.withLock { $0 } }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.range(of: Data("\r\n\r\n".utf8)) == nil {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { return }
            received.append(contentsOf: buffer[..<count])
        }
        let head = String(decoding: received, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers)
        log.withLock { $0.append(request) }
        let response = respond(request)
        var text = "HTTP/1.1 \(response.status) Status\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var bytes = Data(text.utf8)
        if request.method != "HEAD" { bytes.append(response.body) }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = send(client, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
