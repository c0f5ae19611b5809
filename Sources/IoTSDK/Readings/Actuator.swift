/// Something that acts on the world on command: a relay, a motor driver, a PWM output, a valve.
///
/// Every actuator has a **safe state** (relay open, motor stopped, heater off) that
/// ``enterSafeState()`` enters. The plugin host calls it when it shuts down (SIGTERM), when the
/// module that controls the actuator stops or crashes, and before a rollback, so that a device
/// never keeps a heater on because its software went away.
///
/// Conforming types are `Sendable`, because the host calls ``enterSafeState()`` from its own task
/// while the app may be calling ``apply(_:)``; a driver that owns a line or bus handle is typically
/// an actor.
public protocol Actuator<Command>: Sendable {
    /// The type of command accepted, such as `Bool` for a relay or a duty-cycle ``Ratio``.
    associatedtype Command: Sendable

    /// Drives the actuator to the state that `command` describes.
    ///
    /// - Throws: The driver's error if `command` is invalid for this device (the actuator's state
    ///   is then unchanged) or if the hardware transfer fails; `CancellationError` if the task is
    ///   cancelled during a timed transition.
    func apply(_ command: Command) async throws

    /// Puts the actuator into its safe state.
    ///
    /// It must be idempotent, succeed from any state (including after a failed ``apply(_:)``),
    /// and finish even when the calling task is already cancelled: the host calls it while it
    /// shuts down.
    ///
    /// - Throws: The driver's error if the hardware could not be put into the safe state; the host
    ///   logs it and reports the actuator as unsafe.
    func enterSafeState() async throws
}
