import IoTSDK

/// Simulated chips for tests and for sdk-demo's simulated board. Each model is written from its
/// chip's datasheet register map (not from the driver), and plugs into `SimulatedI2CBus`.
public enum SensorDriversTesting {}
