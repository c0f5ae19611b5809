#if canImport(Glibc)
import Glibc
#endif
import IoTSDK

/// A check that failed, with what was expected.
struct LabFailure: Error, CustomStringConvertible {
    var description: String
}

/// One test that runs inside the lab VM against the real kernel.
struct LabTest: Sendable {
    var name: String
    var body: @Sendable () async throws -> Void
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw LabFailure(description: "line \(line): \(message())") }
}

func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String = "", line: Int = #line) throws {
    if actual != expected {
        throw LabFailure(description: "line \(line): \(what.isEmpty ? "" : what + ": ")expected \(expected), got \(actual)")
    }
}

/// Runs `body` and checks that it throws a `HardwareError` with `code`; returns it for more checks.
@discardableResult
func expectError<T>(_ code: HardwareError.Code, line: Int = #line, _ body: () throws -> T) throws -> HardwareError {
    do {
        let value = try body()
        throw LabFailure(description: "line \(line): expected a \(code) error, got \(value)")
    } catch let error as HardwareError {
        if error.code != code {
            throw LabFailure(description: "line \(line): expected a \(code) error, got \(error.code): \(error)")
        }
        return error
    }
}

/// Reads what is there, or fails the test naming the file.
func readFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw LabFailure(description: "cannot open \(path): errno \(errno)") }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buffer, buffer.count)
    guard n >= 0 else { throw LabFailure(description: "cannot read \(path): errno \(errno)") }
    var text = String(decoding: buffer[0..<n], as: UTF8.self)
    while text.last == "\n" { text.removeLast() }
    return text
}

func writeFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { throw LabFailure(description: "cannot open \(path) for writing: errno \(errno)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else {
        throw LabFailure(description: "cannot write '\(text)' to \(path): errno \(errno)")
    }
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func environment(_ name: String) throws -> String {
    guard let value = getenv(name) else { throw LabFailure(description: "the lab fixture did not set \(name)") }
    return String(cString: value)
}

/// Collects `count` events or fails after `timeout`.
func collect(_ count: Int, from events: GPIOEdgeEvents, within timeout: Duration = .seconds(10),
             while action: @Sendable () async throws -> Void) async throws -> [GPIOEdgeEvent] {
    try await withThrowingTaskGroup(of: [GPIOEdgeEvent]?.self) { group in
        group.addTask {
            var seen: [GPIOEdgeEvent] = []
            for try await event in events {
                seen.append(event)
                if seen.count == count { break }
            }
            return seen
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        try await action()
        guard let first = try await group.next() else { throw LabFailure(description: "no result") }
        group.cancelAll()
        guard let events = first else {
            throw LabFailure(description: "timed out after \(timeout) waiting for \(count) events")
        }
        return events
    }
}

/// Runs the tests whose names contain `filter`, prints one line per test and a summary, and
/// returns the number of failures.
func runLabTests(_ tests: [LabTest], filter: String?) async -> Int {
    var passed = 0
    var failed = 0
    for test in tests where filter.map({ test.name.contains($0) }) ?? true {
        do {
            try await test.body()
            passed += 1
            print("LAB PASS \(test.name)")
        } catch {
            failed += 1
            print("LAB FAIL \(test.name): \(error)")
        }
    }
    print("lab: \(passed) passed, \(failed) failed")
    return failed
}
