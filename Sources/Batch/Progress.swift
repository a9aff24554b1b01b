import Foundation

/// Progress on stderr: a redrawn bar with an ETA on a terminal, one plain line per image
/// otherwise (logs, CI, `nohup`).
final class Progress {
    private let total: Int
    private let interactive: Bool
    private let started = Date()
    private var done = 0

    init(total: Int) {
        self.total = total
        interactive = isatty(STDERR_FILENO) == 1
    }

    func finished(_ input: String, outcome: String, seconds: Double) {
        done += 1
        if interactive {
            let width = 30
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = "\r[\(bar)] \(done)/\(total) ETA \(Self.format(eta)) \(input)"
            FileHandle.standardError.write(Data((line.prefix(160) + "\u{1B}[K").utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let line = "[\(done)/\(total)] \(outcome) \(input) (\(String(format: "%.2f", seconds)) s)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// A message that must stay on screen (a failure), printed above the bar.
    func note(_ message: String) {
        let prefix = interactive ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
    }

    private var eta: Double {
        guard done > 0 else { return 0 }
        return Date().timeIntervalSince(started) / Double(done) * Double(total - done)
    }

    private static func format(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 3600 ? String(format: "%dh%02dm", whole / 3600, whole / 60 % 60)
            : String(format: "%dm%02ds", whole / 60, whole % 60)
    }
}
