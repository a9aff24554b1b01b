import Foundation
import OverpaintTestSupport
import Testing
import Tensors
@testable import Weights

/// `SafeTensorsFile.releaseResidentPages` takes the mapped pages out of the process: the half
/// tensors read in place (which point into the mapping) and the copies read afterwards hold the
/// same values, faulted back from the file, and the process's resident size drops.
@Test func releasedPagesReadBackUnchanged() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("weights.safetensors")
    let count = 16 << 20  // 32 MB of f16
    let values = Tensor(shape: [count]) { buffer in
        for index in buffer.indices { buffer[index] = Float(index % 1024) / 64 }  // exact in f16
    }
    try SafeTensorsWriter.write(["w": values], dtype: .f16, to: url)
    let file = try SafeTensorsFile(url: url)
    let half = try #require(try file.halfTensor(named: "w"))
    let before = half.floatTensor()
    SafeTensorsFile.releaseResidentPages()
    #expect(half.floatTensor().scalars == before.scalars)
    #expect(try file.tensor(named: "w").scalars == values.scalars)
    // touched again, then released: the process's resident memory falls by most of it
    _ = half.floatTensor()
    let touched = try residentBytes()
    SafeTensorsFile.releaseResidentPages()
    let released = try residentBytes()
    #expect(touched - released > 16 << 20, "resident \(touched) -> \(released)")
}

/// The process's resident set (`/proc/self/statm`, field 2, in pages).
private func residentBytes() throws -> Int {
    let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
    return try #require(Int(fields[1])) * Int(sysconf(Int32(_SC_PAGESIZE)))
}
