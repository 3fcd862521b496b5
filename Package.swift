// swift-tools-version:6.2
import PackageDescription

/// rabbitChat: a SockJS chat server over AMQP. See `Specs/` for what crosses each wire
/// and `../shared/DESIGN.md` for the module rules (each target imports as little as it can).
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "rabbitChat",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Broker", targets: ["Broker"]),
        .library(name: "InMemoryBroker", targets: ["InMemoryBroker"]),
        .library(name: "RabbitMQBroker", targets: ["RabbitMQBroker"]),
        .library(name: "SockJS", targets: ["SockJS"]),
        .library(name: "Chat", targets: ["Chat"]),
        .library(name: "ChatClient", targets: ["ChatClient"]),
        .executable(name: "rabbitChat", targets: ["Server"]),
        .executable(name: "LoadTester", targets: ["LoadTester"]),
        .executable(name: "BrokerBench", targets: ["BrokerBench"]),
        .executable(name: "sockjs-echo-server", targets: ["SockJSEchoServer"]),
        .executable(name: "SockJSBench", targets: ["SockJSBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // MARK: AMQP
        // rabbitmq-c, compiled against the librabbitmq-dev headers but loaded with dlopen at
        // the first RabbitMQ connect: without librabbitmq the in-process broker still runs.
        .target(name: "CRabbitMQ"),
        // SQLite from Debian's libsqlite3-dev: the built-in broker's store (`--data-dir`).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "Broker", swiftSettings: strict),
        .target(
            name: "RabbitMQBroker",
            dependencies: ["Broker", "CRabbitMQ"],
            swiftSettings: strict
        ),
        .target(
            name: "InMemoryBroker",
            dependencies: [
                "Broker", "CSQLite",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "BrokerBench",
            dependencies: [
                "Broker", "InMemoryBroker", "RabbitMQBroker", "CRabbitMQ", "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Writes through a durable in-process broker and reports its confirms on stdout, for
        // the kill test (Tests/BrokerContractTests/StoreKillTests.swift), which SIGKILLs it.
        .executableTarget(name: "StoreKillHarness", dependencies: ["Broker", "InMemoryBroker"], swiftSettings: strict),

        // MARK: Wire codecs (pure: no SwiftNIO, no framework; Specs/sockjs.md, "The wire codec")
        // The hand-written JSON reader and string escapes every wire shares.
        .target(name: "WireJSON", swiftSettings: strict),
        // SockJS framing and its JSON: one codec for the server (SockJS) and the client (ChatClient).
        .target(name: "SockJSWire", dependencies: ["WireJSON"], swiftSettings: strict),

        // MARK: SockJS
        .target(
            name: "SockJS",
            dependencies: [
                "SockJSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "SockJSEchoServer",
            dependencies: [
                "SockJS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SockJSBench",
            dependencies: [
                "SockJS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: Chat
        // The chat's frames and their codec (Specs/chat-protocol.md): what a client needs.
        .target(name: "ChatProtocol", dependencies: ["WireJSON"], swiftSettings: strict),
        .target(
            name: "Chat",
            dependencies: [
                "Broker", "ChatProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChatClient",
            dependencies: [
                "ChatProtocol", "SockJSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),

        // MARK: Executables
        .executableTarget(
            name: "Server",
            dependencies: [
                "Broker", "InMemoryBroker", "RabbitMQBroker", "SockJS", "Chat",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Public")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LoadTester",
            dependencies: [
                "ChatClient", "ChatProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),

        // MARK: Fuzzing (scripts/fuzz.sh builds these with -sanitize=fuzzer; a plain build replays files)
        .target(name: "FuzzEngine"),
        .target(
            name: "FuzzChecks",
            dependencies: [
                "Chat", "ChatClient", "SockJS", "SockJSWire", "FuzzEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "FuzzChatFrames", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzSockJSFrames", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzWebSocketFrames", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzHTTPHead", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzSockJSConnection", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzHTTPRequests", dependencies: ["FuzzChecks"], swiftSettings: strict),
        .executableTarget(name: "FuzzClientFrames", dependencies: ["FuzzChecks"], swiftSettings: strict),

        // MARK: Tests
        // The one test-support target: brokers for a test on every backend (`TestBroker`), the
        // in-process chat cluster (`ChatCluster`), server processes and raw sockets
        // (`ServerProcess`, `LiveServer`, `TestSocket`), and the one polling helper (`eventually`).
        .target(
            name: "ServerTestSupport",
            dependencies: [
                "Broker", "InMemoryBroker", "RabbitMQBroker", "Chat",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ServerTestSupport",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServerTestSupportTests",
            dependencies: ["ServerTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BrokerContractTests",
            dependencies: ["Broker", "InMemoryBroker", "RabbitMQBroker", "ServerTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RabbitMQBrokerTests",
            dependencies: ["Broker", "RabbitMQBroker", "ServerTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WireTests",
            dependencies: ["WireJSON", "SockJSWire"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SockJSTests",
            dependencies: [
                "SockJS", "SockJSWire", "ServerTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "ServerTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatClientTests",
            dependencies: [
                "ChatClient", "ChatProtocol", "ServerTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["sockjs-node-echo.js"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LoadTesterTests",
            dependencies: ["LoadTester", "ChatClient", "ChatProtocol", "ServerTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FaultTests",
            dependencies: [
                "ChatClient", "Chat", "InMemoryBroker", "ServerTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatTests",
            dependencies: ["Chat", "ChatProtocol", "Broker", "InMemoryBroker", "ServerTestSupport", "SockJSWire"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: [
                "FuzzChecks", "Chat", "ChatClient", "SockJS", "SockJSWire", "InMemoryBroker", "ServerTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
    ]
)
