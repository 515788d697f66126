import ArgumentParser

/// `turbodiffusion serve t2v|i2v [flags]`: the interactive session, the same as `t2v --serve`.
/// `serve --http [flags]` never reaches it: `TurboDiffusion.main` turns it into `webui [flags]`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Interactive session: models load once and stay resident; type prompts, /help for commands.",
        discussion: """
            Takes every flag of the chosen command (see `turbodiffusion t2v --help`); --prompt is not needed. \
            `serve --http [flags]` is `webui [flags]`: the web UI and HTTP API.
            """
    )

    @Argument(help: "t2v or i2v.")
    var task: String = "t2v"

    @Argument(parsing: .captureForPassthrough, help: "Flags of `turbodiffusion <task>`.")
    var flags: [String] = []

    func validate() throws {
        guard ["t2v", "i2v"].contains(task) else { throw ValidationError("serve t2v or serve i2v, got '\(task)'") }
    }

    func run() throws {
        let arguments = flags + ["--serve"]
        if task == "t2v" {
            var command = try T2VCommand.parseAsRoot(arguments) as! T2VCommand
            try command.validate()
            try command.run()
        } else {
            var command = try I2VCommand.parseAsRoot(arguments) as! I2VCommand
            try command.validate()
            try command.run()
        }
    }
}
