import ArgumentParser
import IoTSDK
import SensorDrivers
import SensorDriversTesting

/// A sensor the demo reads: one line of text per reading.
protocol DemoSensor: Sendable {
    var label: String { get }
    func readLine() async throws -> String
}

/// Any driver whose measurement prints itself with units.
struct DriverSensor<S: Sensor>: DemoSensor where S.Value: CustomStringConvertible {
    let label: String
    let sensor: S

    func readLine() async throws -> String {
        "\(try await sensor.read().value)"
    }
}

/// `--sensor KIND[@BUS][:ADDRESS]`, e.g. `bme280@1:0x76`, `bme280`, `bme280:0x77`.
struct SensorSpec: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var kind: SensorKind
    var bus: Int
    var address: I2CAddress

    init?(argument: String) {
        var rest = Substring(argument.lowercased())
        var addressText: Substring?
        if let colon = rest.lastIndex(of: ":") {
            addressText = rest[rest.index(after: colon)...]
            rest = rest[..<colon]
        }
        var busNumber = 1
        if let at = rest.firstIndex(of: "@") {
            guard let n = Int(rest[rest.index(after: at)...]), n >= 0 else { return nil }
            busNumber = n
            rest = rest[..<at]
        }
        guard let kind = SensorKind(rawValue: String(rest)) else { return nil }
        var address = kind.defaultAddress
        if let addressText {
            let digits = addressText.hasPrefix("0x") ? addressText.dropFirst(2) : addressText
            guard let value = Int(digits, radix: 16), let valid = try? I2CAddress(validating: value) else { return nil }
            address = valid
        }
        self.kind = kind
        self.bus = busNumber
        self.address = address
    }

    static var defaultValueDescription: String { "" }

    static var allValueStrings: [String] { SensorKind.allCases.map(\.rawValue) }

    var description: String { "\(kind.name)@\(bus):\(address)" }
}

/// The chips the demo knows, with the driver and simulated model for each.
enum SensorKind: String, CaseIterable, Sendable {
    case bme280, bmp280, sht3x, sht4x, bh1750, mcp9808, tmp102, ads1115, ads1015, mpu6050

    var name: String { rawValue.uppercased() }

    var defaultAddress: I2CAddress {
        switch self {
        case .bme280, .bmp280: return 0x76
        case .sht3x, .sht4x: return 0x44
        case .bh1750: return 0x23
        case .mcp9808: return 0x18
        case .tmp102, .ads1115, .ads1015: return 0x48
        case .mpu6050: return 0x68
        }
    }

    /// Opens the driver on a device (real, or simulated).
    func open(_ device: I2CDevice, label: String) async throws -> any DemoSensor {
        switch self {
        case .bme280: return DriverSensor(label: label, sensor: try await BME280(device: device))
        case .bmp280: return DriverSensor(label: label, sensor: try await BMP280(device: device))
        case .sht3x: return DriverSensor(label: label, sensor: try await SHT3x(device: device))
        case .sht4x: return DriverSensor(label: label, sensor: try await SHT4x(device: device))
        case .bh1750: return DriverSensor(label: label, sensor: try await BH1750(device: device))
        case .mcp9808: return DriverSensor(label: label, sensor: try await MCP9808(device: device))
        case .tmp102: return DriverSensor(label: label, sensor: try await TMP102(device: device))
        case .ads1115: return DriverSensor(label: label, sensor: try await ADS1x15(device: device, configuration: .init(part: .ads1115)))
        case .ads1015: return DriverSensor(label: label, sensor: try await ADS1x15(device: device, configuration: .init(part: .ads1015)))
        case .mpu6050: return DriverSensor(label: label, sensor: try await MPU6050(device: device))
        }
    }

    /// A simulated chip for this kind, and what changes its environment over time (seconds).
    func simulated() -> (device: any SimulatedI2CDevice, tick: @Sendable (Double) -> Void) {
        @Sendable func temperature(_ t: Double) -> Temperature {
            (try? Temperature.celsius(21.5 + 1.5 * Wave.sine(t, period: 40))) ?? Temperature(baseValue: 294.65)
        }
        @Sendable func humidity(_ t: Double) -> RelativeHumidity { .percent(45 + 8 * Wave.sine(t, period: 25)) }
        switch self {
        case .bme280, .bmp280:
            let chip = SimulatedBME280(variant: self == .bme280 ? .bme280 : .bmp280)
            return (chip, { t in
                chip.setEnvironment(temperature: temperature(t), pressure: .hectopascals(1012 + 3 * Wave.sine(t, period: 90)),
                                    humidity: humidity(t))
            })
        case .sht3x:
            let chip = SimulatedSHT3x()
            return (chip, { t in chip.setEnvironment(temperature: temperature(t), humidity: humidity(t)) })
        case .sht4x:
            let chip = SimulatedSHT4x()
            return (chip, { t in chip.setEnvironment(temperature: temperature(t), humidity: humidity(t)) })
        case .bh1750:
            let chip = SimulatedBH1750()
            return (chip, { t in chip.setIlluminance(.lux(300 + 250 * Wave.sine(t, period: 30))) })
        case .mcp9808:
            let chip = SimulatedMCP9808()
            return (chip, { t in chip.setTemperature(temperature(t)) })
        case .tmp102:
            let chip = SimulatedTMP102()
            return (chip, { t in chip.setTemperature(temperature(t)) })
        case .ads1115, .ads1015:
            let chip = SimulatedADS1x15(part: self == .ads1115 ? .ads1115 : .ads1015)
            return (chip, { t in chip.setInput(0, to: .volts(1.2 + 0.6 * Wave.sine(t, period: 20))) })
        case .mpu6050:
            let chip = SimulatedMPU6050()
            return (chip, { t in
                let tilt = Wave.sine(t, period: 12)
                chip.setEnvironment(
                    acceleration: Vector3(x: .gravities(0.3 * tilt), y: .gravities(0), z: .gravities(1)),
                    angularVelocity: Vector3(x: .degreesPerSecond(15 * tilt), y: .degreesPerSecond(0), z: .degreesPerSecond(0)),
                    temperature: temperature(t))
            })
        }
    }
}

/// Slowly changing values for the simulated environment, without Foundation.
enum Wave {
    /// sin(2πt/period) by a short Taylor series on the reduced angle: plenty for a demo.
    static func sine(_ t: Double, period: Double) -> Double {
        var x = (t / period).truncatingRemainder(dividingBy: 1) * 2 * Double.pi
        if x > Double.pi { x -= 2 * Double.pi }
        let x2 = x * x
        return x * (1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72))))
    }
}

/// The demo's sensors, opened on the hardware or on the simulated board.
struct DemoSensorSet: Sendable {
    var sensors: [any DemoSensor]
    /// Advances the simulated environment; nil on hardware.
    var tick: (@Sendable (Double) -> Void)?

    static func open(_ specs: [SensorSpec], simulated: Bool) async throws -> DemoSensorSet {
        if simulated {
            var buses: [Int: SimulatedI2CBus] = [:]
            var ticks: [@Sendable (Double) -> Void] = []
            var sensors: [any DemoSensor] = []
            for spec in specs {
                let (device, tick) = spec.kind.simulated()
                tick(0)
                let bus = buses[spec.bus] ?? SimulatedI2CBus(name: "simulated i2c-\(spec.bus)")
                buses[spec.bus] = bus
                bus.attach(device, at: spec.address)
                ticks.append(tick)
                sensors.append(try await spec.kind.open(bus.device(spec.address), label: "\(spec.kind.name) (simulated) at \(spec.address) on i2c-\(spec.bus)"))
            }
            let all = ticks
            return DemoSensorSet(sensors: sensors, tick: { t in all.forEach { $0(t) } })
        }
        var buses: [Int: LinuxI2CBus] = [:]
        var sensors: [any DemoSensor] = []
        for spec in specs {
            let bus: LinuxI2CBus
            if let open = buses[spec.bus] {
                bus = open
            } else {
                bus = try LinuxI2CBus(bus: spec.bus)
                buses[spec.bus] = bus
            }
            sensors.append(try await spec.kind.open(bus.device(spec.address), label: "\(spec.kind.name) at \(spec.address) on i2c-\(spec.bus)"))
        }
        return DemoSensorSet(sensors: sensors, tick: nil)
    }
}
