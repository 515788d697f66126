import ArgumentParser

@main
struct TurboDiffusion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turbodiffusion",
        abstract: "Few-step video generation with distilled Wan diffusion transformers.",
        subcommands: [T2VCommand.self, I2VCommand.self, InfoCommand.self, ForwardCommand.self, QuantizeCommand.self,
                      ServeCommand.self, TokenizeCommand.self, BenchCommand.self, TestBackendCommand.self,
                      CompareCommand.self, CompareFramesCommand.self, SynthesizeCommand.self, ModelsCommand.self,
                      WebUICommand.self, DownloadCommand.self]
    )

    /// `serve --http …` is an alias of `webui …`.
    static func main() async {
        await main(aliased(Array(CommandLine.arguments.dropFirst())))
    }

    static func aliased(_ arguments: [String]) -> [String] {
        guard arguments.first == "serve", let i = arguments.firstIndex(of: "--http") else { return arguments }
        var rest = arguments
        rest.remove(at: i)
        rest[0] = "webui"
        return rest
    }
}
