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
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CTesseract",
            path: "Sources/CTesseract",
            pkgConfig: "tesseract",
            providers: [.apt(["libtesseract-dev", "libleptonica-dev"])]
        ),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CurlHTTP",
            dependencies: ["CCurl"]
        ),
        .target(
            name: "S3",
            dependencies: ["CurlHTTP", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The environment as every reader sees it, and the one error a bad value makes.
        .target(name: "Environment"),
        .target(
            name: "OCR",
            dependencies: [
                "CTesseract",
                "Environment",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Storage",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The store protocols on PostgreSQL (`DATABASE_URL=postgres://…`), for one gateway and many workers.
        .target(
            name: "PostgresStore",
            dependencies: [
                "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Plugins",
            dependencies: [
                "OCR",
                "Storage",
                "S3",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The use cases every edge calls: jobs, reports, whitelist, search, questions, a batch run.
        .target(
            name: "UseCases",
            dependencies: [
                "OCR",
                "Storage",
                "Plugins",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "BotGateway",
            dependencies: [
                "Environment",
                "OCR",
                "Storage",
                "Plugins",
                "UseCases",
                "CurlHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .executableTarget(
            name: "BotGatewayCLI",
            dependencies: [
                "BotGateway",
                "Environment",
                "OCR",
                "Storage",
                "Plugins",
                "UseCases",
                "S3",
                "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/CLI"
        ),
        .executableTarget(
            name: "BotGatewayBench",
            dependencies: [
                "OCR",
                "Storage",
                "Plugins",
                "CurlHTTP",
                "S3",
                "PostgresStore",
                "TestSupport",
                "UseCases",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Sources/Bench"
        ),
        .testTarget(
            name: "OCRTests",
            dependencies: ["OCR", "Environment", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        // The wire-level doubles (Telegram, Anthropic, OpenAI), the S3 and LLM server launchers, the loopback
        // server and the corpus scorers: under Tests/, used by the test targets and the benchmark tool only,
        // never linked into `botgateway`.
        .target(
            name: "TestSupport",
            dependencies: [
                "OCR",
                "Storage",
                "CTesseract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: ["CurlHTTP", "TestSupport", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "S3Tests",
            dependencies: ["S3", "CurlHTTP", "TestSupport", "Storage", "Plugins", "UseCases", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "BotGatewayTests",
            dependencies: ["BotGateway", "Environment", "TestSupport", "CurlHTTP", "OCR", "Storage", "Plugins", "UseCases", "PostgresStore", "S3",
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The store contract: the same tests against SQLite and a real PostgreSQL server.
        .testTarget(
            name: "StoreTests",
            dependencies: ["Storage", "PostgresStore", "TestSupport"]
        ),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["OCR", "Storage", "Plugins", "UseCases", "TestSupport", "CurlHTTP", .product(name: "Logging", package: "swift-log"),
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
