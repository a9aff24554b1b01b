import Foundation

/// Progress on stderr. On a terminal a bar redrawn at each denoising step or tile; elsewhere
/// (Slurm logs, CI, `nohup`) a line per image plus, during a long image, a heartbeat line at
/// most every `heartbeat` seconds; quiet prints only notes (failures). Both show the step,
/// seconds per step and ETAs for the image and the batch. The batch ETA comes from the images
/// actually edited: a resumed skip takes no time and would make the rest look instant.
///
/// Limitation: the image ETA covers the step sequence running now; a recipe of several
/// generating edits starts a new sequence per edit (the batch ETA, from whole images, does not).
final class Progress: @unchecked Sendable {
    // @unchecked: every mutable field is touched only while holding `lock`: steps arrive from
    // the editing thread, finished images from the writing queue.
    enum Mode: Sendable { case terminal, log, quiet }

    static let heartbeat = 15.0
    /// The least time between two redraws of the bar (Real-ESRGAN tiles can be very quick).
    static let redrawInterval = 0.1

    private let total: Int
    private let mode: Mode
    private let clock: () -> Double
    private let write: (String) -> Void
    private let lock = NSLock()

    private var finished = 0
    /// Seconds spent editing, and how many images that covers (skips and read failures not).
    private var editedSeconds = 0.0
    private var edited = 0
    private var current: (index: Int, input: String, started: Double)?
    private var sequence: (total: Int, firstStepAt: Double, step: Int, unit: String)?
    private var lastLine: Double
    private var lastRedraw = -Double.infinity

    /// `clock` gives seconds from any origin; `write` receives finished text (stderr by default).
    init(total: Int, mode: Mode, clock: @escaping () -> Double = Progress.monotonicSeconds,
         write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.total = total
        self.mode = mode
        self.clock = clock
        self.write = write
        lastLine = clock()
    }

    /// A bar on a terminal, lines otherwise, nothing but notes when `quiet`.
    static func mode(quiet: Bool) -> Mode {
        quiet ? .quiet : isatty(STDERR_FILENO) == 1 ? .terminal : .log
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// The job at `index` of the plan starts editing.
    func started(_ index: Int, input: String) {
        lock.withLock {
            current = (index, input, clock())
            sequence = nil
        }
    }

    /// Called before step `step` (from 0) of `steps` ("step" or "tile") of the current image.
    func step(_ step: Int, of steps: Int, unit: String) {
        lock.withLock {
            let now = clock()
            if sequence == nil || step == 0 || sequence?.total != steps || sequence?.unit != unit {
                sequence = (steps, now, step, unit)
            }
            sequence?.step = step
            switch mode {
            case .quiet: return
            case .terminal:
                guard now - lastRedraw >= Self.redrawInterval else { return }
                lastRedraw = now
                redraw(now: now)
            case .log:
                guard now - lastLine >= Self.heartbeat else { return }
                line(statusText(now: now))
            }
        }
    }

    /// The current image's editing ended (done or failed) after `seconds`; it counts toward the rate.
    func edited(seconds: Double) {
        lock.withLock {
            editedSeconds += seconds
            edited += 1
            current = nil
            sequence = nil
        }
    }

    /// An image is recorded: `outcome` is ok, failed or skipped.
    func finished(_ input: String, outcome: String, seconds: Double) {
        lock.withLock {
            finished += 1
            let now = clock()
            switch mode {
            case .quiet: return
            case .terminal:
                lastRedraw = now
                redraw(now: now)
                if finished == total { write("\n") }
            case .log:
                var text = "[\(finished)/\(total)] \(outcome) \(input) (\(String(format: "%.2f", seconds)) s)"
                if finished < total, let eta = batchETA(now: now) { text += ", batch ETA \(Self.format(eta))" }
                line(text)
            }
        }
    }

    /// A message that must stay on screen (a failure), printed above the bar, even when quiet.
    func note(_ message: String) {
        lock.withLock {
            write((mode == .terminal ? "\r\u{1B}[K" : "") + message + "\n")
            if mode == .terminal { redraw(now: clock()) }
        }
    }

    // MARK: - Text

    private func line(_ text: String) {
        write(text + "\n")
        lastLine = clock()
    }

    private func redraw(now: Double) {
        let width = 24
        let filled = total == 0 ? width : width * finished / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let text = "\(bar) \(statusText(now: now))"
        write("\r" + String(text.prefix(Self.terminalColumns() - 1)) + "\u{1B}[K")
    }

    /// `[3/10] p3.png: step 12/20, 1.52 s/step, image ETA 12s, batch ETA 10m05s` (the image's
    /// place in the batch, or images finished when none is being edited).
    private func statusText(now: Double) -> String {
        var head = "[\(finished)/\(total)]"
        if let current { head = "[\(current.index + 1)/\(total)] \(current.input)" }
        var parts: [String] = []
        if let sequence {
            parts.append("\(sequence.unit) \(sequence.step + 1)/\(sequence.total)")
            if let perStep = secondsPerStep(now: now) {
                parts.append(String(format: "%.2f s/", perStep) + sequence.unit)
                parts.append("image ETA \(Self.format(perStep * Double(sequence.total - sequence.step)))")
            }
        }
        if let eta = batchETA(now: now) { parts.append("batch ETA \(Self.format(eta))") }
        return parts.isEmpty ? head : head + ": " + parts.joined(separator: ", ")
    }

    /// Seconds per step of the sequence running now, once one step has finished.
    private func secondsPerStep(now: Double) -> Double? {
        guard let sequence, sequence.step > 0 else { return nil }
        return (now - sequence.firstStepAt) / Double(sequence.step)
    }

    /// What is left of the batch: the rest of the current image, then each image after it at
    /// the mean time of those edited so far (or, before any, what the current one will take).
    private func batchETA(now: Double) -> Double? {
        let remainingAfterCurrent: Int
        var currentLeft = 0.0
        var perImage: Double? = edited > 0 ? editedSeconds / Double(edited) : nil
        if let current {
            remainingAfterCurrent = total - current.index - 1
            let elapsed = now - current.started
            if let sequence, let perStep = secondsPerStep(now: now) {
                currentLeft = perStep * Double(sequence.total - sequence.step)
                perImage = perImage ?? elapsed + currentLeft
            } else if let mean = perImage {
                currentLeft = max(0, mean - elapsed)
            }
        } else {
            remainingAfterCurrent = total - finished
        }
        guard let perImage else { return nil }
        return currentLeft + perImage * Double(max(0, remainingAfterCurrent))
    }

    static func format(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        if whole >= 3600 { return String(format: "%dh%02dm", whole / 3600, whole / 60 % 60) }
        return whole >= 60 ? String(format: "%dm%02ds", whole / 60, whole % 60) : "\(whole)s"
    }

    private static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 else { return 100 }
        return Int(size.ws_col)
    }
}
