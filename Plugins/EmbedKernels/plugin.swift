import PackagePlugin

/// Embeds every `Kernels/*.cu` file of a target as a Swift string constant
/// (`KernelSources.<stem>`), so the CUDA sources stay plain `.cu` files that NVRTC and CuPy
/// compile directly, while the static executable carries them without resource bundles.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let source = target as? SourceModuleTarget else { return [] }
        let kernels = source.sourceFiles(withSuffix: "cu").map(\.url).sorted { $0.path < $1.path }
        guard !kernels.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL.appending(path: "KernelSources.swift")
        return [.buildCommand(
            displayName: "Embedding \(kernels.count) CUDA kernel sources of \(target.name)",
            executable: try context.tool(named: "EmbedKernelsTool").url,
            arguments: [output.path] + kernels.map(\.path),
            inputFiles: kernels,
            outputFiles: [output])]
    }
}
