import ArgumentParser
import IoTSDK
import SensorDrivers
import SensorDriversTesting

/// One reading of a demo sensor: the driver's own text with units, and its quantities.
struct DemoSample: Sendable {
    /// `25.39 °C, 1012.31 hPa, 45.0 %RH`.
    var text: String
    var values: [MeasuredValue]
    var timestamp: Timestamp
}

/// A sensor the demo reads.
protocol DemoSensor: Sendable {
    /// `BME280 (simulated) at 0x76 on i2c-1`.
    var label: String { get }
    /// `bme280@1:0x76`: the first part of its series' names in the database.
    var id: String { get }
    /// What its readings hold.
    var quantities: [DemoQuantity] { get }
    func read() async throws -> DemoSample
}

/// Any driver whose measurement prints itself with units and splits into the demo's quantities.
struct DriverSensor<S: Sensor>: DemoSensor where S.Value: CustomStringConvertible & DemoMeasurable {
    let label: String
    let id: String
    let quantities: [DemoQuantity]
    let sensor: S

    func read() async throws -> DemoSample {
        let reading = try await sensor.read()
        return DemoSample(text: "\(reading.value)", values: reading.value.measuredValues, timestamp: reading.timestamp)
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

    /// `bme280@1:0x76`, the sensor's part of its series' names.
    var id: String { "\(kind.rawValue)@\(bus):\(address)" }
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

    /// The quantities its readings hold (what `--threshold` may name).
    var quantities: [DemoQuantity] {
        switch self {
        case .bme280: return [.temperature, .pressure, .humidity]
        case .bmp280: return [.temperature, .pressure]
        case .sht3x, .sht4x: return [.temperature, .humidity]
        case .bh1750: return [.illuminance]
        case .mcp9808, .tmp102: return [.temperature]
        case .ads1115, .ads1015: return [.voltage]
        case .mpu6050: return [.temperature] + DemoQuantity.acceleration + DemoQuantity.rotation
        }
    }

    /// Opens the driver on a device (real, or simulated).
    func open(_ device: I2CDevice, spec: SensorSpec, label: String) async throws -> any DemoSensor {
        func sensor<S: Sensor>(_ driver: S) -> any DemoSensor where S.Value: CustomStringConvertible & DemoMeasurable {
            DriverSensor(label: label, id: spec.id, quantities: quantities, sensor: driver)
        }
        switch self {
        case .bme280: return sensor(try await BME280(device: device))
        case .bmp280: return sensor(try await BMP280(device: device))
        case .sht3x: return sensor(try await SHT3x(device: device))
        case .sht4x: return sensor(try await SHT4x(device: device))
        case .bh1750: return sensor(try await BH1750(device: device))
        case .mcp9808: return sensor(try await MCP9808(device: device))
        case .tmp102: return sensor(try await TMP102(device: device))
        case .ads1115: return sensor(try await ADS1x15(device: device, configuration: .init(part: .ads1115)))
        case .ads1015: return sensor(try await ADS1x15(device: device, configuration: .init(part: .ads1015)))
        case .mpu6050: return sensor(try await MPU6050(device: device))
        }
    }

    /// A simulated chip for this kind, and what changes its environment over time (seconds).
    func simulated() -> (device: any SimulatedI2CDevice, tick: @Sendable (Double) -> Void) {
        // Warm air drifting around 25 °C, the default --threshold: below it for the first
        // 1.5 s, above it from 1.5 s to 7.5 s, below again until 13.5 s, every 12 s.
        @Sendable func temperature(_ t: Double) -> Temperature {
            (try? Temperature.celsius(25 + 1.5 * Wave.sine(t + 10.5, period: 12))) ?? Temperature(baseValue: 298.15)
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
                sensors.append(try await spec.kind.open(bus.device(spec.address), spec: spec, label: "\(spec.kind.name) (simulated) at \(spec.address) on i2c-\(spec.bus)"))
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
            sensors.append(try await spec.kind.open(bus.device(spec.address), spec: spec, label: "\(spec.kind.name) at \(spec.address) on i2c-\(spec.bus)"))
        }
        return DemoSensorSet(sensors: sensors, tick: nil)
    }
}
