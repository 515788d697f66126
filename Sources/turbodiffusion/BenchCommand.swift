import ArgumentParser

/// `turbodiffusion bench …`: micro-benchmarks of backend kernels.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark backend kernels.",
        subcommands: []
    )
}
