import ArgumentParser

@main
struct TurboDiffusion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turbodiffusion",
        abstract: "Few-step video generation with distilled Wan diffusion transformers.",
        subcommands: [T2VCommand.self, I2VCommand.self, InfoCommand.self, ForwardCommand.self, QuantizeCommand.self,
                      ServeCommand.self, TokenizeCommand.self, BenchCommand.self, TestBackendCommand.self,
                      CompareCommand.self, CompareFramesCommand.self, SynthesizeCommand.self, ModelsCommand.self,
                      WebUICommand.self]
    )
}
