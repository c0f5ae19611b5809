import CFFI
import ModuleProtocol

/// Why a call through libffi was refused (no call was made) or a signature could not be prepared.
public struct FFIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// `ffi_prep_cif` refused the signature.
        case preparation
        /// The call has more or fewer arguments than the signature has parameters.
        case argumentCount
        /// An argument's type is not its parameter's.
        case argumentType
        /// A string argument holds a NUL byte: C would see only the part before it.
        case stringContainsNUL
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A C function type made of `ValueType`s, prepared once for libffi (`ffi_prep_cif`), and calls of
/// functions of that type with `CommandValue` arguments.
///
/// The C types: `bool` is C `bool` (one byte, `ffi_type_uint8`); `int32`, `int64`, `uint32`,
/// `uint64` are the `<stdint.h>` types; `double` is `double`; `string` is `const char *`, a
/// NUL-terminated UTF-8 string.
///
/// A signature is immutable once made and may be shared and called from any number of threads at
/// once: each call keeps its argument storage on its own stack (`withUnsafeTemporaryAllocation`),
/// and passes a `string` argument as the pointer that `String.withCString` gives (no copy for a
/// native Swift string), valid until the call returns.
public struct FFISignature: Sendable, Equatable, CustomStringConvertible {
    public let parameters: [ValueType]
    public let returns: ValueType
    private let prepared: PreparedCIF

    /// Prepares the call interface for functions `returns f(parameters...)` with the platform's
    /// default ABI.
    /// - Throws: `FFIError` `.preparation` if libffi refuses it (it should not for these types).
    public init(parameters: [ValueType], returns: ValueType) throws(FFIError) {
        self.parameters = parameters
        self.returns = returns
        self.prepared = try PreparedCIF(parameters: parameters, returns: returns)
    }

    public static func == (a: FFISignature, b: FFISignature) -> Bool {
        a.parameters == b.parameters && a.returns == b.returns
    }

    /// `(int32, double) -> string`
    public var description: String {
        "(\(parameters.map(\.rawValue).joined(separator: ", "))) -> \(returns.rawValue)"
    }

    /// Calls `function` (an address from `dlsym` of a C function of this signature) with
    /// `arguments`, and returns its result.
    ///
    /// The arguments are checked first: their number, each one's type, and that no string holds a
    /// NUL byte; on any mismatch the function is not called. Nothing else is checked here (the
    /// manifest's rules, such as the 4096-byte string limit, are the caller's: see
    /// `ModuleManifest.checkArguments`).
    ///
    /// A `string` result is a `const char *` that the module owns: it is copied into a Swift
    /// `String` at once, before any argument storage goes away, so the function may return a
    /// static or thread-local buffer, or even one of its string arguments; the module must not free
    /// or reuse it while the function runs. A NULL result becomes the empty string (so NULL and ""
    /// cannot be told apart); bytes that are not UTF-8 become U+FFFD.
    ///
    /// - Throws: `FFIError` `.argumentCount`, `.argumentType` or `.stringContainsNUL`, before any call.
    public func call(_ function: UnsafeRawPointer, _ arguments: [CommandValue]) throws(FFIError) -> CommandValue {
        try check(arguments)
        let count = arguments.count
        // [result | one 8-byte slot per argument | one pointer per argument, to its slot]
        let resultBytes = max(8, MemoryLayout<ffi_arg>.stride)
        let slotsOffset = resultBytes
        let pointersOffset = slotsOffset + count * Self.slotBytes
        let byteCount = pointersOffset + count * MemoryLayout<UnsafeMutableRawPointer?>.stride
        let cif = prepared.cif
        let returns = self.returns
        return withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: 16) { buffer -> CommandValue in
            let base = buffer.baseAddress!
            let result = base
            let slots = base + slotsOffset
            let pointers = (base + pointersOffset).bindMemory(to: UnsafeMutableRawPointer?.self, capacity: count)
            for index in 0..<count { pointers[index] = slots + index * Self.slotBytes }
            return Self.store(arguments, from: 0, into: slots) {
                ciot_ffi_call(cif, function, result, pointers)
                // Read the result here: a returned string may point into an argument's storage.
                return Self.load(returns, from: result)
            }
        }
    }

    // MARK: - Private

    /// Every argument type fits in 8 bytes (on 32-bit targets too: int64, uint64, double).
    private static let slotBytes = 8

    private func check(_ arguments: [CommandValue]) throws(FFIError) {
        guard arguments.count == parameters.count else {
            throw FFIError(.argumentCount, "the function \(self) takes \(parameters.count) argument\(parameters.count == 1 ? "" : "s"), got \(arguments.count)")
        }
        for (index, (type, argument)) in zip(parameters, arguments).enumerated() {
            guard argument.type == type else {
                throw FFIError(.argumentType, "argument \(index + 1) of the function \(self) must be a \(type.rawValue), got a \(argument.type.rawValue)")
            }
            if case .string(let text) = argument, text.utf8.contains(0) {
                throw FFIError(.stringContainsNUL, "argument \(index + 1) of the function \(self) holds a NUL byte, which a C string cannot carry")
            }
        }
    }

    /// Stores `arguments[start...]` into their slots, then runs `body`. A string argument's pointer
    /// is valid only inside `withCString`, so the rest of the work nests inside it.
    private static func store(_ arguments: [CommandValue], from start: Int, into slots: UnsafeMutableRawPointer,
                              _ body: () -> CommandValue) -> CommandValue {
        var index = start
        while index < arguments.count {
            let slot = slots + index * slotBytes
            switch arguments[index] {
            case .bool(let value): slot.storeBytes(of: value ? 1 : 0, as: UInt8.self)
            case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
            case .int64(let value): slot.storeBytes(of: value, as: Int64.self)
            case .uint32(let value): slot.storeBytes(of: value, as: UInt32.self)
            case .uint64(let value): slot.storeBytes(of: value, as: UInt64.self)
            case .double(let value): slot.storeBytes(of: value, as: Double.self)
            case .string(let text):
                let next = index + 1
                return text.withCString { pointer in
                    slot.storeBytes(of: pointer, as: UnsafePointer<CChar>.self)
                    return store(arguments, from: next, into: slots, body)
                }
            }
            index += 1
        }
        return body()
    }

    /// The result in `buffer` as libffi left it: integer types narrower than `ffi_arg` are widened
    /// to a whole `ffi_arg`, so they are read as one and narrowed (right on either byte order).
    private static func load(_ type: ValueType, from buffer: UnsafeMutableRawPointer) -> CommandValue {
        switch type {
        case .bool: .bool(UInt8(truncatingIfNeeded: buffer.load(as: ffi_arg.self)) != 0)
        case .int32: .int32(Int32(truncatingIfNeeded: buffer.load(as: ffi_arg.self)))
        case .uint32: .uint32(UInt32(truncatingIfNeeded: buffer.load(as: ffi_arg.self)))
        case .int64: .int64(buffer.load(as: Int64.self))
        case .uint64: .uint64(buffer.load(as: UInt64.self))
        case .double: .double(buffer.load(as: Double.self))
        case .string: .string(buffer.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? "")
        }
    }
}

extension ValueType {
    /// The libffi type of this type's C type.
    var ffiType: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .bool: ciot_ffi_type_uint8()
        case .int32: ciot_ffi_type_sint32()
        case .int64: ciot_ffi_type_sint64()
        case .uint32: ciot_ffi_type_uint32()
        case .uint64: ciot_ffi_type_uint64()
        case .double: ciot_ffi_type_double()
        case .string: ciot_ffi_type_pointer()
        }
    }
}

/// The `ffi_cif` and the argument-type array it points to, at fixed addresses for the signature's
/// lifetime. Written only in `init`; `ffi_call` only reads a prepared cif, so sharing one between
/// threads is safe.
private final class PreparedCIF: @unchecked Sendable {
    let cif: UnsafeMutablePointer<ffi_cif>
    let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    init(parameters: [ValueType], returns: ValueType) throws(FFIError) {
        cif = .allocate(capacity: 1)
        cif.initialize(to: ffi_cif())
        argumentTypes = .allocate(capacity: max(parameters.count, 1))
        argumentTypes.initialize(repeating: nil, count: max(parameters.count, 1))
        for (index, type) in parameters.enumerated() { argumentTypes[index] = type.ffiType }
        let status = ciot_ffi_prep_cif(cif, UInt32(parameters.count), returns.ffiType, argumentTypes)
        guard status == 0 else {
            // deinit runs for a class whose stored properties are all set.
            throw FFIError(.preparation, "libffi could not prepare a call interface for (\(parameters.map(\.rawValue).joined(separator: ", "))) -> \(returns.rawValue): ffi_prep_cif returned \(status)")
        }
    }

    deinit {
        cif.deinitialize(count: 1)
        cif.deallocate()
        argumentTypes.deallocate()
    }
}
