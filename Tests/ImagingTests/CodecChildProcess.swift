import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Imaging

/// Runs a decode in a forked child process: its peak memory is then its own, apart from the
/// tests running beside it in this process, and a decode that hangs is killed instead of
/// blocking the suite.
enum CodecChildProcess {
    struct Outcome {
        /// What the body returned; nil when the child was killed or died.
        var text: String?
        /// How far the child's peak resident memory rose above its resident memory at the start.
        var peakGrowthBytes: Int
        /// Wall-clock seconds the body took (the time limit when it was killed).
        var seconds: Double
        var timedOut: Bool
    }

    /// What a read of `url` fails with, or "decoded WxH": the message of an error that is not
    /// an ImagingError says so.
    static func readOutcome(_ url: URL, maxPixels: Int = 100_000_000) -> String {
        do {
            let image = try ImageFile.read(url, maxPixels: maxPixels)
            return "decoded \(image.width)x\(image.height)"
        } catch let error as ImagingError {
            return error.errorDescription ?? ""
        } catch {
            return "not an ImagingError: \(error)"
        }
    }

    /// Runs `body` in a child, killing it after `timeout` seconds. The child first runs
    /// `warmUp`, so that faulting in code and runtime data does not count as the body's
    /// memory, then makes sure that the body's blocks cannot reuse pages that are resident
    /// already (see `takeFreshPages`).
    ///
    /// A forked child of a threaded process may only use what no other thread could have
    /// held locked at the fork: glibc's malloc is safe, and the caller warms the Swift
    /// runtime's type metadata up by running the same code path once in this process.
    static func run(timeout: Double = 20, warmUp: () -> Void = {}, _ body: () -> String) -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { return Outcome(text: nil, peakGrowthBytes: 0, seconds: 0, timedOut: false) }
        let child = fork()
        if child == 0 {
            close(pipeEnds[0])
            warmUp()
            takeFreshPages()
            // clear_refs "5" sets the peak back to the resident size.
            let clear = open("/proc/self/clear_refs", O_WRONLY)
            if clear >= 0 {
                _ = write(clear, "5", 1)
                close(clear)
            }
            let before = statusKilobytes("VmRSS:")
            let started = monotonicSeconds()
            let text = body()
            let seconds = monotonicSeconds() - started
            let growth = statusKilobytes("VmHWM:") - before
            writeAll(pipeEnds[1], "\(growth * 1024) \(seconds)\n\(text)")
            _exit(0)
        }
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        _ = fcntl(pipeEnds[0], F_SETFL, O_NONBLOCK)
        let started = monotonicSeconds()
        var received: [UInt8] = []
        var status: Int32 = 0
        var exited = false
        while !exited {
            drain(pipeEnds[0], into: &received)
            exited = waitpid(child, &status, WNOHANG) == child
            if !exited && monotonicSeconds() - started > timeout {
                kill(child, SIGKILL)
                waitpid(child, &status, 0)
                return Outcome(text: nil, peakGrowthBytes: 0, seconds: timeout, timedOut: true)
            }
            if !exited { usleep(2_000) }
        }
        drain(pipeEnds[0], into: &received)
        let reply = String(decoding: received, as: UTF8.self)
        guard let newline = reply.firstIndex(of: "\n") else {
            return Outcome(text: nil, peakGrowthBytes: 0, seconds: monotonicSeconds() - started, timedOut: false)
        }
        let numbers = reply[..<newline].split(separator: " ")
        return Outcome(text: String(reply[reply.index(after: newline)...]),
                       peakGrowthBytes: Int(numbers.first ?? "") ?? 0,
                       seconds: Double(numbers.last ?? "") ?? 0, timedOut: false)
    }

    /// Hands the heap's free pages back and has every later block of 64 KiB or more mapped
    /// afresh, so that a block cannot land on pages that are resident already. malloc_trim
    /// leaves a thread arena's free top alone; with no trim threshold and no top padding,
    /// freeing a block beside the top trims it. All glibc's, from <malloc.h>, which the Glibc
    /// module does not declare.
    private static func takeFreshPages() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let libraries = UnsafeMutableRawPointer(bitPattern: 0)
        guard let trim = dlsym(libraries, "malloc_trim").map({ unsafeBitCast($0, to: MallocTrim.self) }),
              let option = dlsym(libraries, "mallopt").map({ unsafeBitCast($0, to: Mallopt.self) }) else { return }
        let (trimThreshold, topPad, mmapThreshold): (Int32, Int32, Int32) = (-1, -2, -3)
        _ = option(trimThreshold, 0)
        _ = option(topPad, 0)
        free(malloc(96 << 10))
        _ = trim(0)
        _ = option(mmapThreshold, 64 << 10)
    }

    /// A `kB` field of /proc/self/status, read with plain system calls.
    private static func statusKilobytes(_ field: String) -> Int {
        let descriptor = open("/proc/self/status", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        drain(descriptor, into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return 0 }
        return Int(line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
    }

    private static func drain(_ descriptor: Int32, into bytes: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count <= 0 { return }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { return }
            bytes = bytes.dropFirst(count)
        }
    }

    private static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
