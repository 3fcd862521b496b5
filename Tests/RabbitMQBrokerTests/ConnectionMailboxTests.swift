import Broker
import Foundation
import Synchronization
import Testing

@testable import RabbitMQBroker

/// The command queue and wake pipe between callers and a connection's thread, driven here
/// by a stand-in for that thread's loop (no broker needed).
@Suite("Connection command queue")
struct ConnectionMailboxTests {
    /// A command that only counts (it is never run: there is no worker here).
    private static func command() -> ConnectionCommand {
        .call(run: { _ in }, fail: { _ in })
    }

    @Test
    func everySubmittedCommandWakesTheThreadsPollAndNoneWaitsForItsTimeout() async throws {
        let mailbox = try ConnectionMailbox()
        let total = 200_000
        // A burst of submitters on other threads, as acks come from consumer tasks.
        let submitters = Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for part in 0..<4 {
                    group.addTask {
                        for index in 0..<(total / 4) {
                            mailbox.submit(Self.command())
                            if (index + part) % 97 == 0 { await Task.yield() }
                        }
                    }
                }
            }
        }
        // The connection thread's loop, on its own OS thread as in the backend: take the
        // commands, sleep in poll until woken, drain the pipe. Waking must never depend on
        // the poll timeout.
        let (takenCount, timeoutsWithWorkPending) = await withCheckedContinuation { (done: CheckedContinuation<(Int, Int), Never>) in
            let started = startOSThread {
                var taken: [ConnectionCommand] = []
                var takenCount = 0
                var timeoutsWithWorkPending = 0
                var descriptor = pollfd(fd: mailbox.wakeReadFD, events: Int16(POLLIN), revents: 0)
                var rounds = 0
                while takenCount < total, timeoutsWithWorkPending == 0, rounds < 10_000_000 {
                    rounds += 1
                    mailbox.takeCommands(into: &taken)
                    takenCount += taken.count
                    taken.removeAll(keepingCapacity: true)
                    if takenCount == total { break }
                    descriptor.revents = 0
                    if poll(&descriptor, 1, 1_000) == 0 {
                        // Woken by nothing: was something submitted that was not announced?
                        mailbox.takeCommands(into: &taken)
                        if !taken.isEmpty { timeoutsWithWorkPending += 1 }
                        takenCount += taken.count
                        taken.removeAll(keepingCapacity: true)
                    }
                    if descriptor.revents & Int16(POLLIN) != 0 { mailbox.drainWakePipe() }
                }
                done.resume(returning: (takenCount, timeoutsWithWorkPending))
            }
            if !started { done.resume(returning: (0, -1)) }
        }
        await submitters.value
        #expect(timeoutsWithWorkPending == 0, "a command waited for the poll timeout: a wake-up was lost")
        #expect(takenCount == total)
        mailbox.markClosed(.connectionClosed("the test is over."))
    }

    @Test
    func aSubmitAfterTheCloseFailsAtOnceWithTheCloseReason() throws {
        let mailbox = try ConnectionMailbox()
        mailbox.markClosed(.connectionClosed("the test closed it."))
        let failure = Mutex<BrokerError?>(nil)
        mailbox.submit(.call(run: { _ in }, fail: { error in failure.withLock { $0 = error } }))
        #expect(failure.withLock { $0 } == .connectionClosed("the test closed it."))
    }
}
