import Broker

/// The faults currently injected into the simulator (see ``InMemoryBroker``'s fault API).
struct SimFaults {
    var refuseConnections = false
    var publishFault: InMemoryBroker.PublishFault?
    /// How many more publishes the fault applies to; nil means until cleared.
    var publishFaultRemaining: Int?
    var stallConfirms = false

    /// Takes one use of the publish fault, if any is armed.
    mutating func nextPublishFault() -> InMemoryBroker.PublishFault? {
        guard let fault = publishFault else { return nil }
        if let remaining = publishFaultRemaining {
            if remaining <= 1 {
                publishFault = nil
                publishFaultRemaining = nil
            } else {
                publishFaultRemaining = remaining - 1
            }
        }
        return fault
    }
}
