import ChatClient
import Testing

@testable import LoadTester

@Suite struct TransportMixTests {
    @Test func theStandardMixIsMostlyWebsocketWithSomeOfEachFallback() {
        let counts = (0..<100).reduce(into: [SockJSTransportKind: Int]()) { $0[TransportMix.standard.transport(for: $1), default: 0] += 1 }
        #expect(counts == [.websocket: 80, .xhrStreaming: 10, .xhrPolling: 10])
    }

    @Test func sharesInterleaveSoSmallRunsGetEveryTransport() throws {
        let mix = try TransportMix(parsing: "all")
        #expect((0..<3).map(mix.transport(for:)) == [.websocket, .xhrStreaming, .xhrPolling])
        #expect((0..<10).map(TransportMix.standard.transport(for:)).filter { $0 != .websocket }.count == 2)
    }

    @Test func parsesWeightsAndNames() throws {
        let weighted = try TransportMix(parsing: "websocket=3,xhr-polling=1")
        #expect((0..<4).map(weighted.transport(for:)).sorted { $0.rawValue < $1.rawValue } == [.websocket, .websocket, .websocket, .xhrPolling])
        #expect(try TransportMix(parsing: "xhr-streaming").transport(for: 7) == .xhrStreaming)
    }

    @Test func refusesWhatItCannotUseWithASentence() {
        #expect(throws: TransportMix.ParseError.self) { try TransportMix(parsing: "eventsource") }
        #expect(throws: TransportMix.ParseError.self) { try TransportMix(parsing: "websocket=x") }
        #expect(throws: TransportMix.ParseError.self) { try TransportMix(parsing: "websocket=0") }
        #expect(throws: TransportMix.ParseError.self) { try TransportMix(parsing: "websocket,websocket") }
    }
}
