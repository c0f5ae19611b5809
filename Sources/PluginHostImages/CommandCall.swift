import ModuleProtocol

// Checking a typed command call against the manifest before anything is sent to the runner. Every
// refusal is a `ModuleError` with code `.unknownCommand` or `.badArguments` (exit code 21): no
// call was made.

extension ModuleManifest.Command {
    /// The command as a C-like signature: `set_target(celsius: double) -> int32`.
    public var signature: String {
        "\(name)(\(parameterList)) -> \(resultType.rawValue)"
    }

    /// `celsius: double, mode: string`
    var parameterList: String {
        parameters.map { "\($0.name): \($0.type.rawValue)" }.joined(separator: ", ")
    }
}

extension ModuleManifest {
    /// The declared command called `name`, if any.
    public func command(named name: String) -> Command? {
        commands.first { $0.name == name }
    }

    /// Reads the text arguments of a call to command `name` (as typed on a command line) into
    /// typed values, one per parameter, by `CommandValue.init(parsing:as:)`.
    /// - Throws: `ModuleError` `.unknownCommand` listing the module's commands with their
    ///   signatures; `.badArguments` for a wrong number of arguments ("set_target takes 1 argument
    ///   (celsius: double), got 2") or for a text that is not a value of its parameter's type,
    ///   naming the parameter, its type, the text and what is wrong.
    public func commandArguments(_ name: String, _ texts: [String]) throws(ModuleError) -> (command: Command, values: [CommandValue]) {
        let (index, command) = try lookUp(name)
        try checkCount(command, index: index, given: texts.count)
        var values: [CommandValue] = []
        values.reserveCapacity(texts.count)
        for (position, (parameter, text)) in zip(command.parameters, texts).enumerated() {
            do throws(CommandValueError) {
                values.append(try CommandValue(parsing: text, as: parameter.type))
            } catch {
                throw ModuleError(.badArguments, "\(command.name): argument \(position + 1) (\(parameter.name): \(parameter.type.rawValue)) got \(Self.quoted(text)): \(error.reason)",
                                  field: "commands[\(index)].parameters[\(position)]")
            }
        }
        return (command, values)
    }

    /// Checks typed arguments of a call to command `name` (from the host API): their number, each
    /// one's type, and the rules of `CommandValue.validate()` (a finite double; a string without
    /// NUL and at most `CommandValue.maximumStringBytes` bytes), the same that text arguments meet.
    /// - Returns: the command.
    /// - Throws: `ModuleError` `.unknownCommand` or `.badArguments`, as `commandArguments`.
    @discardableResult
    public func checkArguments(_ name: String, _ values: [CommandValue]) throws(ModuleError) -> Command {
        let (index, command) = try lookUp(name)
        try checkCount(command, index: index, given: values.count)
        for (position, (parameter, value)) in zip(command.parameters, values).enumerated() {
            let what = "\(command.name): argument \(position + 1) (\(parameter.name): \(parameter.type.rawValue))"
            let field = "commands[\(index)].parameters[\(position)]"
            guard value.type == parameter.type else {
                throw ModuleError(.badArguments, "\(what) got a value of type \(value.type.rawValue) (\(Self.quoted(value.description))); pass a \(parameter.type.rawValue)", field: field)
            }
            do throws(CommandValueError) {
                try value.validate()
            } catch {
                throw ModuleError(.badArguments, "\(what) got \(Self.quoted(value.description)): \(error.reason)", field: field)
            }
        }
        return command
    }

    private func lookUp(_ name: String) throws(ModuleError) -> (Int, Command) {
        if let index = commands.firstIndex(where: { $0.name == name }) { return (index, commands[index]) }
        let known = commands.isEmpty
            ? "it declares no commands"
            : "its commands are: " + commands.map(\.signature).joined(separator: "; ")
        throw ModuleError(.unknownCommand, "module \(id) has no command \(Self.quoted(name)); \(known)", field: "commands")
    }

    private func checkCount(_ command: Command, index: Int, given: Int) throws(ModuleError) {
        let expected = command.parameters.count
        guard given != expected else { return }
        let takes = expected == 0
            ? "takes no arguments"
            : "takes \(expected) argument\(expected == 1 ? "" : "s") (\(command.parameterList))"
        throw ModuleError(.badArguments, "\(command.name) \(takes), got \(given)", field: "commands[\(index)].parameters")
    }

    /// A text for a message: quoted, with control characters escaped, at most 64 characters.
    static func quoted(_ text: String) -> String {
        let limit = 64
        let shown = text.count > limit ? String(text.prefix(limit)) : text
        var result = "'"
        for scalar in shown.unicodeScalars {
            switch scalar {
            case "\0": result += "\\0"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "'": result += "\\'"
            case "\\": result += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        result += "'"
        if text.count > limit { result += "… (\(text.utf8.count) bytes)" }
        return result
    }
}
