import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM as a request to stop cleanly (Slurm preemption and Kubernetes eviction
/// send SIGTERM). The first signal is remembered, and the run polls it before each image,
/// denoising step and upscaling tile; the second runs the abort action (the run removes its
/// temporary files) and exits at once. Signals arrive through dispatch sources, so nothing
/// runs in signal-handler context.
public final class StopRequest: @unchecked Sendable {
    // @unchecked: `sources` is written once, by `onSignals`, before the request is shared, and
    // only keeps the sources alive; the rest is atomic or behind a mutex.
    private let received = Atomic<Int32>(0)
    private let abortAction = Mutex<(@Sendable () -> Void)?>(nil)
    /// Said before exiting at the first signal, while nothing polls the request yet.
    private let immediateExitMessage = Mutex<String?>(nil)
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    /// A request that SIGINT and SIGTERM make; their default actions (ending the process) are
    /// turned off.
    public static func onSignals() -> StopRequest {
        let request = StopRequest()
        let queue = DispatchQueue(label: "overpaint.signals")
        request.sources = [SIGINT, SIGTERM].map { number in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [request] in
                for _ in 0..<max(1, Int(source.data)) { request.receive(number) }
            }
            source.resume()
            return source
        }
        return request
    }

    /// Until `pollingStarts`, the first signal ends the process at once, saying `message`: while
    /// a run checks its recipe and loads its models nothing polls, and nothing needs cleaning.
    public func exitsAtOnce(saying message: String) {
        immediateExitMessage.withLock { $0 = message }
    }

    /// From here a first signal is a request the run polls.
    public func pollingStarts() {
        immediateExitMessage.withLock { $0 = nil }
    }

    /// The signal that asked to stop, if one has.
    public var signal: Int32? {
        let number = received.load(ordering: .acquiring)
        return number == 0 ? nil : number
    }

    public var isRequested: Bool { signal != nil }

    /// What a second signal does before the process exits.
    func onAbort(_ action: @escaping @Sendable () -> Void) {
        abortAction.withLock { $0 = action }
    }

    /// Records `number` (the first) or aborts (any later one).
    func receive(_ number: Int32) {
        if let message = immediateExitMessage.withLock({ $0 }) {
            FileHandle.standardError.write(Data("\n\(message)\n".utf8))
            _exit(128 + number)
        }
        let (first, _) = received.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
        if first {
            FileHandle.standardError.write(Data("\nstopping after the current step (signal again to stop at once)\n".utf8))
            return
        }
        abortAction.withLock { $0 }?()
        _exit(128 + number)
    }
}
