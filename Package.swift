// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Overpaint",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "overpaint", targets: ["overpaint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "CCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("tiff"),
                             .linkedLibrary("webp"), .linkedLibrary("webpmux"), .linkedLibrary("exif"),
                             .linkedLibrary("heif"), .linkedLibrary("exempi")]
        ),
        .target(name: "FileAccess"),
        .target(name: "CKernels"),
        .target(name: "Imaging", dependencies: ["CCodecs", "FileAccess"]),
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CDNNL", "CKernels"]),
        .target(name: "Weights", dependencies: ["Tensors", "FileAccess"]),
        .target(name: "Models", dependencies: ["Tensors", "Weights"], resources: [.copy("CLIP/Resources/clip-tokenizer")]),
        .target(name: "Schedulers", dependencies: ["Tensors"]),
        .target(name: "Prompts"),
        .target(name: "Adapters", dependencies: ["Tensors", "Weights"]),
        .target(name: "Pipelines", dependencies: ["Models", "Schedulers", "Tensors", "Weights", "Imaging", "Prompts", "Adapters"]),
        .target(name: "Recipes", dependencies: ["Yams", "Schedulers", "Prompts", "Adapters", "Weights"]),
        .target(name: "Batch", dependencies: [
            "Recipes", "Imaging", "Pipelines", "Weights", "Adapters", "FileAccess", "CMalloc",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(
            name: "overpaint",
            dependencies: [
                "Batch", "Recipes", "Models", "Pipelines", "Tensors", "Adapters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "OverpaintTestSupport",
            dependencies: ["Tensors", "Weights", "Imaging", "Models"],
            path: "Tests/OverpaintTestSupport"
        ),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "OverpaintTestSupport"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "OverpaintTestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "OverpaintTestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "OverpaintTestSupport"]),
        .testTarget(name: "SchedulersTests", dependencies: ["Schedulers", "OverpaintTestSupport"]),
        .testTarget(name: "PromptsTests", dependencies: ["Prompts"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "OverpaintTestSupport"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "Adapters", "OverpaintTestSupport"]),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes"]),
        .testTarget(name: "BatchTests", dependencies: ["Batch", "overpaint", "OverpaintTestSupport"]),
    ]
)
