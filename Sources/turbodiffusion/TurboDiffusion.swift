import ArgumentParser

@main
struct TurboDiffusion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turbodiffusion",
        abstract: "Few-step video generation with distilled Wan diffusion transformers.",
        subcommands: [InfoCommand.self, ForwardCommand.self, QuantizeCommand.self, BenchCommand.self, TokenizeCommand.self]
    )
}
