import ArgumentParser
import IoTSDK

#if canImport(Glibc)
import Glibc
#endif

/// `sdk-demo history`: the stored readings' min, max and mean of the last hour, per series.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show min, max and mean of the last hour of the stored readings, per sensor and quantity.",
        discussion: """
        Reads the database the demo writes (the time-series store's aggregate query, one series \
        per sensor and quantity). Exit codes: 0 shown; 1 no database at the path, or it cannot be \
        read; 64 bad options.
        """
    )

    @Option(help: "The database. Default: the one the demo writes on this machine's board.")
    var database: String?

    @Flag(help: "The simulated board's database (simulated.sqlite) instead of the real board's.")
    var simulated = false

    @Flag(help: "One JSON object a line, as the demo's history events (without \"t\").")
    var json = false

    func validate() throws {
        if simulated && database != nil { throw ValidationError("--database and --simulated exclude each other") }
    }

    func run() async throws {
        let path = database ?? DemoStorage.defaultPath(simulated: simulated)
        // Opening creates a database: look first, so that a wrong path is said, not made.
        guard access(path, F_OK) == 0 else {
            fail("no database at \(path): run sdk-demo first\(simulated || database != nil ? "" : " (sdk-demo history --simulated reads the simulated board's)")")
        }
        let summaries: [SeriesSummary]
        do {
            summaries = try await DemoStorage.open(path: path).history(now: try Timestamp.now())
        } catch { fail(error) }
        let event = DemoEvent.history(at: nil, summaries)
        if !json { print("Readings in \(path):") }
        for line in json ? event.jsonLines : event.plainLines { print(line) }
    }
}
