import CMalloc
import Foundation

/// This process's resident memory as Linux reports it in `/proc/self/status`, for peak-RSS
/// figures in benchmarks and run summaries. Other systems report nil.
public enum ProcessMemory {
    /// The peak resident set size (`VmHWM`) in bytes.
    public static var peakResidentBytes: Int? { statusField("VmHWM") }

    /// The current resident set size (`VmRSS`) in bytes.
    public static var residentBytes: Int? { statusField("VmRSS") }

    /// Makes glibc serve blocks under 96 MB from its heap and keep up to 128 MB free at the
    /// heap's top, so tensors freed by one layer are reused by the next.
    ///
    /// By default every block over 32 MB is a fresh `mmap`, unmapped again when freed, so each
    /// UNet evaluation faulted in and zeroed its activations anew: 1.77 million page faults, ~4%
    /// of its samples in the kernel. With these settings 496 thousand; in alternating runs
    /// (2 threads) the UNet took 21.80 -> 20.71 s and 22.37 -> 21.06 s, VAE encode 10.78 ->
    /// 10.21 s and 10.61 -> 10.24 s, decode 21.68 -> 21.31 s and 21.77 -> 20.76 s. The price is
    /// memory held for reuse: the 512x512 img2img peaked at 3.41 GB instead of 3.30 GB.
    /// Returns false where the C library refuses either setting.
    @discardableResult
    public static func keepFreedBlocksForReuse() -> Bool {
        mallopt(M_MMAP_THRESHOLD, 96 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 128 << 20) == 1
    }

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
