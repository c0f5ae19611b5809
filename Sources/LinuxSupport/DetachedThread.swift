// Linux only, as the host and the runner are (the module-image code that also builds on macOS
// does not start threads).
#if os(Linux)
import CIoTLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The host and the runner each run a few long-lived loops (a runner connection's reader, the
// supervisor, the control server, the event loop) on threads of their own, never on Swift's
// cooperative pool, which blocking reads would starve. Plain pthreads keep Foundation's `Thread`
// (and so Foundation) out of both processes.

private final class ThreadBody {
    let name: String?
    let run: @Sendable () -> Void
    init(name: String?, _ run: @escaping @Sendable () -> Void) { self.name = name; self.run = run }
}

/// Runs `body` on a new detached thread, named `name` for `ps -T` and `top -H` (the kernel keeps
/// 15 bytes of it).
/// - Parameters:
///   - name: The thread's name, or nil to inherit the process's.
///   - body: What the thread runs; the thread ends when it returns.
/// - Returns: 0, or the error number of `pthread_create` (EAGAIN: too many threads).
public func startDetachedThread(name: String? = nil, _ body: @escaping @Sendable () -> Void) -> Int32 {
    let context = Unmanaged.passRetained(ThreadBody(name: name, body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { context in
        let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
        if let name = body.name { _ = ciot_set_thread_name(name) }
        body.run()
        return nil
    }, context)
    guard created == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return created
    }
    pthread_detach(thread)
    return 0
}
#endif
