import ChatClient

/// How clients are spread over transports: weights per transport, assigned deterministically
/// by client index so every run of the same options uses the same mix.
struct TransportMix: Sendable, Equatable, CustomStringConvertible {
    private(set) var weights: [(SockJSTransportKind, Int)]

    static func == (lhs: TransportMix, rhs: TransportMix) -> Bool {
        lhs.weights.map(\.0) == rhs.weights.map(\.0) && lhs.weights.map(\.1) == rhs.weights.map(\.1)
    }

    /// Mostly websocket, some of each fallback.
    static let standard = TransportMix(unchecked: [(.websocket, 8), (.xhrStreaming, 1), (.xhrPolling, 1)])

    private init(unchecked weights: [(SockJSTransportKind, Int)]) {
        self.weights = weights
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// Parses `websocket=8,xhr-streaming=1,xhr-polling=1`, or names without weights
    /// (`websocket,xhr-polling`: equal shares), or `all` (equal shares of every transport).
    init(parsing text: String) throws(ParseError) {
        if text == "all" {
            self.init(unchecked: SockJSTransportKind.allCases.map { ($0, 1) })
            return
        }
        var weights: [(SockJSTransportKind, Int)] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            let names = SockJSTransportKind.allCases.map(\.rawValue).joined(separator: ", ")
            guard let kind = SockJSTransportKind(rawValue: String(pieces[0]).trimmingSpaces) else {
                throw ParseError(description: "Unknown transport '\(pieces[0])' in --transports: use \(names), e.g. websocket=8,xhr-streaming=1,xhr-polling=1.")
            }
            let weight = pieces.count == 2 ? Int(String(pieces[1]).trimmingSpaces) : 1
            guard let weight, weight >= 0 else {
                throw ParseError(description: "The weight of \(kind) in --transports must be a whole number, e.g. websocket=8.")
            }
            guard !weights.contains(where: { $0.0 == kind }) else {
                throw ParseError(description: "\(kind) appears twice in --transports: name each transport once.")
            }
            weights.append((kind, weight))
        }
        guard weights.contains(where: { $0.1 > 0 }) else {
            throw ParseError(description: "--transports gives no transport a share: name at least one, e.g. websocket.")
        }
        self.init(unchecked: weights)
    }

    /// The transport of client `index`: spread so that every prefix of the clients is as close
    /// to the weights as it can be (client 0 gets the heaviest transport).
    func transport(for index: Int) -> SockJSTransportKind {
        let total = weights.reduce(0) { $0 + $1.1 }
        let slot = index % total
        // Interleave: the transport whose share is most behind at this slot.
        var counts = [Int](repeating: 0, count: weights.count)
        var chosen = 0
        for position in 0...slot {
            var best = -1
            var bestDeficit = Double(-Int.max)
            for (i, (_, weight)) in weights.enumerated() where weight > 0 {
                let deficit = Double(weight) * Double(position + 1) / Double(total) - Double(counts[i])
                if deficit > bestDeficit {
                    bestDeficit = deficit
                    best = i
                }
            }
            counts[best] += 1
            chosen = best
        }
        return weights[chosen].0
    }

    var description: String {
        weights.filter { $0.1 > 0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
