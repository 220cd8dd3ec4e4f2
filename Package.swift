// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "BotGateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "botgateway", targets: ["BotGatewayCLI"]),
        .executable(name: "botgateway-bench", targets: ["BotGatewayBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CTesseract",
            path: "Sources/CTesseract",
            pkgConfig: "tesseract",
            providers: [.apt(["libtesseract-dev", "libleptonica-dev"])]
        ),
        .target(
            name: "OCR",
            dependencies: [
                "CTesseract",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "BotGatewayCLI",
            dependencies: [
                "OCR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/CLI"
        ),
        .executableTarget(
            name: "BotGatewayBench",
            dependencies: [
                "OCR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Bench"
        ),
        .testTarget(
            name: "OCRTests",
            dependencies: ["OCR", .product(name: "Logging", package: "swift-log")]
        ),
    ]
)
