#if canImport(Glibc)
import Glibc
import LinuxSupport
#endif
import CIoTBench
import IoTSDK
import PluginHost

// sdk-bench: line-set and SMBus-read throughput through the SDK next to a plain C loop issuing the
// same system calls on the same line or register, in the same run. Meant for the QEMU lab
// (Scripts/lab/bench.sh), where gpio-sim and i2c-stub exist; with -icount, guest time counts
// instructions, so the figures repeat and the ratios are instruction ratios.

struct Options {
    var what = "all"
    var iterations = 100_000
    var rounds = 5
    var chipLabel = "iotlab-a"
    var offset: UInt32 = 2
    var adapterName = "SMBus stub driver"
    var address: UInt16 = 0x76
    var register: UInt8 = 0xD0
    /// The guest clock counts instructions (QEMU -icount shift=0): report instructions per op.
    var icount = false
    /// How long `host` watches the idle host for writes and wakeups.
    var idleSeconds = 60
    /// `wasm`: a directory with the bench module already built (bench_module.so and
    /// bench_module.wasm), where there is no compiler (the lab's guest).
    var modules: String?
    /// `wasm`: only build the bench module into this directory, for `--modules`.
    var buildModules: String?
}

func usage() -> Never {
    print("""
    usage: sdk-bench [gpio|i2c|storage|host|delivery|uplink|wasm|all] [--iterations N] [--rounds N] [--chip-label L] [--offset N]
                     [--adapter NAME] [--address 0xNN] [--register 0xNN] [--icount] [--idle-seconds N] [--modules DIR] [--build-modules DIR]
      Measures GPIO line sets (character device and sysfs) and SMBus register reads through the
      SDK and through a plain C loop on the same line/register, and prints ops/s and SDK/C ratios.
      Needs a kernel with those devices: run it in the lab with Scripts/bench.sh.
      storage: batched ingest of readings into the time-series store against plain C with the same
      schema, pragmas and batch size, plus query timings; runs on the host (--iterations = readings).
      host: the plugin host's costs on this machine: libffi command call vs direct, the IPC round
      trip a brokered I2C transfer adds, module cold start, and a host with 3 quiet modules: PSS,
      then bytes written and wakeups over --idle-seconds (default 60) (needs plugin-host,
      plugin-host-runner and libExampleModuleC.so built next to sdk-bench, and cc).
      delivery: pulling module images from a docker-registry it starts on 127.0.0.1: bytes an
      update with an unchanged layer receives, bytes a 20 MB layer costs over a link cut every
      1 MB, plugin-host pull's throughput against skopeo's (median of --rounds), and the peak RSS
      of `plugin-host install REF` with a 200 MB layer (needs docker-registry and skopeo:
      Scripts/ensure-registry.sh, Scripts/ensure-skopeo.sh; and what host needs next to sdk-bench).
      uplink: the SDK's uplink draining an outbox to a mosquitto it starts on 127.0.0.1 at QoS 1,
      against a C loop publishing the same payloads with libmosquitto and waiting for the same
      PUBACKs (--iterations = messages per round; needs mosquitto: Scripts/ensure-mosquitto.sh).
      wasm: a WebAssembly module beside the same C module built natively (wasm/bench_module.c, with
      cc and clang-14 for wasm32), both through plugin-host-runner (sandboxed as root): cold start,
      a typed command call, CRC-32 over 64 KB, the PSS of an idle module's runner processes and a
      brokered I2C register read (on /dev/i2c-$IOTLAB_I2C_BUS's 0x76 where it exists: the lab's
      i2c-stub). --modules DIR: the module already built as DIR/bench_module.so and .wasm (no
      compiler needed), which --build-modules DIR builds and nothing else (Scripts/bench.sh wasm
      does both and runs the bench in the lab).
      --icount: the guest runs under QEMU -icount shift=0, where 1 ns of guest time is one
      instruction; figures are then printed as instructions per operation.
    """)
    exit(2)
}

func parse() -> Options {
    var options = Options()
    var args = CommandLine.arguments.dropFirst()
    func number(_ text: String?) -> Int? {
        guard let text else { return nil }
        return text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
    }
    func int() -> Int {
        guard let value = number(args.popFirst()) else { usage() }
        return value
    }
    func text() -> String {
        guard let value = args.popFirst() else { usage() }
        return value
    }
    while let arg = args.popFirst() {
        switch arg {
        case "gpio", "i2c", "storage", "host", "delivery", "uplink", "wasm", "all": options.what = arg
        case "--iterations": options.iterations = int()
        case "--rounds": options.rounds = int()
        case "--chip-label": options.chipLabel = text()
        case "--offset": options.offset = UInt32(int())
        case "--adapter": options.adapterName = text()
        case "--address": options.address = UInt16(int())
        case "--register": options.register = UInt8(int())
        case "--icount": options.icount = true
        case "--idle-seconds": options.idleSeconds = max(int(), 1)
        case "--modules": options.modules = text()
        case "--build-modules": options.buildModules = text()
        default: usage()
        }
    }
    return options
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Nanoseconds per operation of one round.
func time(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return Double(now() - start) / Double(iterations)
}

/// The C loop of GPIO_V2_LINE_SET_VALUES_IOCTL on a line this process requests itself;
/// nanoseconds per set.
func cChardevSet(_ chip: GPIOChipInfo, _ options: Options) -> Double {
    let fd = ciot_bench_request_output(chip.devicePath ?? "", options.offset)
    guard fd >= 0 else { fail("the C loop could not request \(chip.name) line \(options.offset): errno \(errno)") }
    defer { close(fd) }
    return time(options.iterations) {
        if ciot_bench_chardev_set(fd, UInt64(options.iterations)) != 0 { fail("C chardev loop failed: errno \(errno)") }
    }
}

/// Toggles a one-line request `iterations` times through the SDK; nanoseconds per set.
func toggle(_ line: GPIOLineRequest, _ iterations: Int) throws -> Double {
    try time(iterations) {
        var value = LineValue.inactive
        for _ in 0..<iterations {
            value = value.toggled
            try line.set(value)
        }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func report(_ name: String, sdk: [Double], c: [Double]) {
    let s = median(sdk)
    let k = median(c)
    func whole(_ v: Double) -> String { String(Int(v.rounded())) }
    let thousandths = Int((k / s * 1000).rounded())
    let fraction = String(thousandths % 1000)
    let shown = "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    if options.icount {
        print("\(name): SDK \(whole(s)) instructions/op, C \(whole(k)) instructions/op, ratio SDK/C (C cost / SDK cost) \(shown)")
    } else {
        print("\(name): SDK \(whole(1e9 / s)) ops/s (\(whole(s)) ns/op), C \(whole(1e9 / k)) ops/s (\(whole(k)) ns/op), ratio SDK/C \(shown)")
    }
}

func fail(_ message: String) -> Never {
    print("sdk-bench: \(message)")
    exit(1)
}

let options = parse()
print("sdk-bench: \(options.iterations) operations per round, median of \(options.rounds) rounds")

if options.what == "gpio" || options.what == "all" {
    do {
        let gpio = try GPIO.linux(.characterDevice)
        let chip = try gpio.chip(labeled: options.chipLabel)
        let line = GPIOLineSelector.chip(label: options.chipLabel, offset: Int(options.offset))
        // Character device: SDK set() against GPIO_V2_LINE_SET_VALUES_IOCTL in C.
        var sdk: [Double] = []
        var c: [Double] = []
        for _ in 0..<options.rounds {
            let out = try gpio.output(line)
            sdk.append(try toggle(out, options.iterations))
            out.release()
            c.append(cChardevSet(chip, options))
        }
        report("gpio chardev set", sdk: sdk, c: c)

        // The plugin host's mediation: a module sets its line through the descriptor the broker
        // granted, handed with SCM_RIGHTS to another process as the host hands it to a runner,
        // against the host setting a line it requested itself. Both are the same C loop, so the
        // ratio shows what the grant costs per set.
        var granted: [Double] = []
        var direct: [Double] = []
        let broker = HardwareBroker(moduleID: "com.example.bench", capabilities: .init(gpio: [.init(chip: chip.name, line: options.offset, direction: .output)]),
                                    audit: AuditLog(stateDirectory: "/tmp"))
        for _ in 0..<options.rounds {
            guard case let .success(fd) = broker.requestGPIO(chip: chip.name, line: options.offset, direction: .output, initialValue: false) else {
                fail("the broker did not grant \(chip.name) line \(options.offset)")
            }
            var nanoseconds: UInt64 = 0
            guard ciot_bench_chardev_set_in_child(fd, UInt64(options.iterations), &nanoseconds) == 0 else {
                fail("the loop on the descriptor handed to a child process failed: errno \(errno)")
            }
            granted.append(Double(nanoseconds) / Double(options.iterations))
            close(fd)
            broker.driveOutputsToSafeState()
            direct.append(cChardevSet(chip, options))
        }
        report("gpio set via granted fd in another process (vs host's own)", sdk: granted, c: direct)

        // sysfs: SDK set() (kept-open value file) against pwrite in C on the same value file.
        let sysfs = try GPIO.linux(.sysfs)
        sdk = []
        c = []
        for _ in 0..<options.rounds {
            let out = try sysfs.output(line)
            sdk.append(try toggle(out, options.iterations))
            let number = (chip.sysfsBase ?? 0) + Int(options.offset)
            let fd = open("/sys/class/gpio/gpio\(number)/value", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { fail("the C loop could not open gpio\(number)/value: errno \(errno)") }
            c.append(time(options.iterations) {
                if ciot_bench_sysfs_write(fd, UInt64(options.iterations)) != 0 { fail("C sysfs loop failed: errno \(errno)") }
            })
            close(fd)
            out.release()
        }
        report("gpio sysfs set", sdk: sdk, c: c)
    } catch {
        fail("\(error)\nsdk-bench needs GPIO chips to measure: run it in the lab with Scripts/lab/bench.sh")
    }
}

if options.what == "i2c" || options.what == "all" {
    do {
        let bus = try LinuxI2CBus(adapterNamed: options.adapterName)
        let device = bus.device(try I2CAddress(validating: Int(options.address)))
        var sdk: [Double] = []
        var c: [Double] = []
        let fd = ciot_bench_open_i2c(bus.devicePath, options.address)
        guard fd >= 0 else { fail("the C loop could not open \(bus.devicePath): errno \(errno)") }
        defer { close(fd) }
        /// The C loop of `count` reads on `fd`: nanoseconds per read.
        func cReads(_ count: Int) -> Double {
            time(count) {
                if ciot_bench_smbus_read(fd, options.register, UInt64(count)) != 0 { fail("C SMBus loop failed: errno \(errno)") }
            }
        }
        var sink: UInt8 = 0
        for _ in 0..<options.rounds {
            sdk.append(try time(options.iterations) {
                for _ in 0..<options.iterations {
                    sink ^= try device.readRegister(options.register)
                }
            })
            c.append(cReads(options.iterations))
        }
        report("i2c smbus read-byte-data", sdk: sdk, c: c)
        if sink == 0xFF { print("") }

        // The plugin host's confined descriptor: the bus opened by the broker, as `i2c_open`
        // hands it to a sandboxed module, read in a child process under the sandbox's syscall
        // filter, against the same C loop unfiltered in this process. Beside it, the brokered
        // path's host side: HardwareBroker.i2cTransfer for each read (without the runner's IPC
        // round trip, which `sdk-bench host` measures).
        let address = UInt8(truncatingIfNeeded: options.address)
        let broker = HardwareBroker(moduleID: "com.example.bench", capabilities: .init(i2c: [.init(bus: UInt32(bus.number), addresses: [address])]),
                                    audit: .discarding, devRoot: parentDirectory(of: bus.devicePath))
        var confined: [Double] = [], direct: [Double] = [], brokered: [Double] = [], directForBroker: [Double] = [], least: [Double] = []
        let brokeredIterations = max(options.iterations / 10, 1)
        for _ in 0..<options.rounds {
            guard case let .success(busFD) = broker.openI2C(bus: UInt32(bus.number), confined: true) else {
                fail("the broker did not open \(bus.devicePath)")
            }
            var nanoseconds: UInt64 = 0
            guard ciot_bench_smbus_read_confined_child(busFD, options.address, options.register, UInt64(options.iterations), 0, &nanoseconds) == 0 else {
                fail("the loop on the confined descriptor in a filtered child failed")
            }
            confined.append(Double(nanoseconds) / Double(options.iterations))
            guard ciot_bench_smbus_read_confined_child(busFD, options.address, options.register, UInt64(options.iterations), 1, &nanoseconds) == 0 else {
                fail("the loop under the least filter failed")
            }
            least.append(Double(nanoseconds) / Double(options.iterations))
            close(busFD)
            direct.append(cReads(options.iterations))
            brokered.append(time(brokeredIterations) {
                for _ in 0..<brokeredIterations {
                    guard case .success = broker.i2cTransfer(bus: UInt32(bus.number), address: address, segments: [.write([options.register]), .read(count: 1)]) else {
                        fail("the broker's transfer failed")
                    }
                }
            })
            directForBroker.append(cReads(brokeredIterations))
        }
        report("i2c smbus read-byte-data on the host's descriptor, under the syscall filter (goal >= 0.9)", sdk: confined, c: direct)
        report("i2c smbus read-byte-data under the least filter the kernel cannot skip (what any argument check costs)", sdk: least, c: direct)
        report("i2c smbus read-byte-data brokered (HardwareBroker.i2cTransfer in the host, no IPC)", sdk: brokered, c: directForBroker)
    } catch {
        fail("\(error)\nsdk-bench needs an I2C adapter to measure: run it in the lab with Scripts/lab/bench.sh")
    }
}

if options.what == "storage" {
    await runStorageBench(readings: options.iterations, rounds: options.rounds)
}

if options.what == "host" {
    do { try runHostBench(options) } catch { fail("\(error)") }
}

if options.what == "delivery" {
    do { try runDeliveryBench(options) } catch { fail("\(error)") }
}

if options.what == "wasm" {
    do { try runWasmBench(options) } catch { fail("\(error)") }
}

if options.what == "uplink" {
    do { try await runUplinkBench(options) } catch { fail("\(error)") }
}
