import Foundation

/// This process's resident memory as Linux reports it in `/proc/self/status`, for peak-RSS
/// figures in benchmarks and run summaries. Other systems report nil.
public enum ProcessMemory {
    /// The peak resident set size (`VmHWM`) in bytes.
    public static var peakResidentBytes: Int? { statusField("VmHWM") }

    /// The current resident set size (`VmRSS`) in bytes.
    public static var residentBytes: Int? { statusField("VmRSS") }

    /// Restarts the peak at the current resident size (`clear_refs` value 5), so each
    /// measured stage reports its own peak; returns false where the kernel refuses.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func statusField(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}
