// swift-tools-version:6.1
import PackageDescription

// Hot loops in the CPU backend are written with SIMD types; they need AVX2/FMA/F16C code
// generation to reach the FMA peak. Every x86-64 machine we target (CI, GPU hosts) has them.
#if arch(x86_64)
let cpuTuning: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"])]
#else
let cpuTuning: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

let package = Package(
    name: "TurboDiffusion",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "turbodiffusion", targets: ["turbodiffusion"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The web UI's HTTP server (docs/webui.md). Default traits off: no swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // `turbodiffusion download` (docs/download.md): our HTTP/1.1 client on NIO with NIOSSL for https.
        // swift-crypto is for the tests only: the reference that Digests (SHA-256/SHA-1 from NIOSSL's
        // BoringSSL) is checked against; linking it would put a second BoringSSL in the binary.
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.2"),
    ],
    targets: [
        // C declarations for the CUDA driver API, NVRTC and cuBLASLt, resolved with dlopen.
        .target(name: "CCUDA", linkerSettings: [.linkedLibrary("dl")]),
        // What full Foundation used to give and FoundationEssentials lacks (locks, threads, printf
        // formatting, paths, standard streams): nothing may import full Foundation, whose ICU data
        // would triple the static binary (scripts/build-release).
        .target(name: "SystemSupport"),
        .target(name: "TensorCore", dependencies: ["SystemSupport"], swiftSettings: cpuTuning),
        .target(name: "BackendCPU", dependencies: ["TensorCore", "SystemSupport"], swiftSettings: cpuTuning),
        // Kernels/*.cu are embedded as Swift strings at build time (EmbedKernels plugin).
        .executableTarget(name: "EmbedKernelsTool"),
        .plugin(name: "EmbedKernels", capability: .buildTool(), dependencies: ["EmbedKernelsTool"]),
        // SHA-256 and SHA-1 through the BoringSSL that NIOSSL links for TLS (one BoringSSL in the binary).
        .target(name: "Digests", dependencies: [.product(name: "NIOSSL", package: "swift-nio-ssl")]),
        .target(name: "BackendCUDA", dependencies: ["TensorCore", "CCUDA", "SystemSupport", "Digests"], exclude: [],
                plugins: ["EmbedKernels"]),
        // The op catalogue (ggml's test-backend-ops): cases, the CPU oracle runner, bounds.
        .target(name: "OpCatalogue", dependencies: ["TensorCore", "BackendCPU"]),
        .target(name: "Checkpoints", dependencies: ["TensorCore", "SystemSupport"]),
        .target(name: "Models", dependencies: ["TensorCore", "Checkpoints", "SystemSupport"]),
        // Image decoding (PNG, JPEG), resizing, PNG and MP4 writing. Foundation only: no system zlib or
        // ffmpeg is needed to build (ffmpeg is used at run time when it is on PATH).
        .target(name: "Media", dependencies: ["SystemSupport"]),
        // umT5 SentencePiece tokenizer (spiece.model / tokenizer.json) and Wan prompt cleaning.
        // Optimized in debug builds too: its parity tests encode thousands of strings.
        .target(name: "Tokenizer", dependencies: ["SystemSupport"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "Pipeline", dependencies: ["TensorCore", "Checkpoints", "Models", "Media", "SystemSupport"]),
        // `turbodiffusion webui`: the HTTP API, the page, the job queue; generation is behind `JobExecutor`.
        .target(name: "TurboDiffusionServer", dependencies: [
            "Media", "Pipeline", "SystemSupport", .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // Hugging Face Hub downloads: resumable, verified, atomic (`turbodiffusion download`).
        .target(name: "HubDownload", dependencies: [
            "SystemSupport", "Digests",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .executableTarget(
            name: "turbodiffusion",
            dependencies: [
                "TensorCore", "BackendCPU", "BackendCUDA", "OpCatalogue", "Checkpoints", "Models", "Pipeline", "Tokenizer",
                "Media", "TurboDiffusionServer", "HubDownload", "SystemSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuTuning
        ),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "BackendCPUTests", dependencies: ["TensorCore", "BackendCPU"]),
        .testTarget(name: "BackendCUDATests", dependencies: ["TensorCore", "BackendCPU", "BackendCUDA", "Checkpoints", "Models"]),
        .testTarget(name: "OpCatalogueTests", dependencies: ["TensorCore", "BackendCPU", "OpCatalogue"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["TensorCore", "Checkpoints"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["TensorCore", "BackendCPU", "Checkpoints", "Models"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PipelineTests", dependencies: ["TensorCore", "BackendCPU", "Checkpoints", "Models", "Pipeline", "Media"]),
        // CLITests read their fixtures by path (the program under test needs real files).
        .testTarget(name: "CLITests", dependencies: ["turbodiffusion", "BackendCUDA", "Checkpoints", "TensorCore", "Media", "Models"], exclude: ["Fixtures"]),
        .testTarget(name: "TurboDiffusionServerTests", dependencies: ["TurboDiffusionServer", "Media"]),
        // Live-server API tests: they start the built executable on an ephemeral loopback port.
        .testTarget(name: "WebUITests", dependencies: ["turbodiffusion", "Media"]),
        // Downloads against a fault-injecting Hub-like server on loopback; the CLI test runs the built executable.
        .testTarget(name: "HubDownloadTests", dependencies: [
            "HubDownload", "Digests", "turbodiffusion", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "MediaTests", dependencies: ["Media"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"], resources: [.copy("Fixtures")]),
    ]
)
