import Foundation
import OverpaintTestSupport
import Testing
@testable import Batch

@Test func benchTimesEveryModelStageAgainstTheSameRunSGEMM() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinyPipelineFolder(in: folder)
    let result = try runOverpaint(["bench", "--model", model.path, "--size", "64", "--repetitions", "1",
                                   "--no-kernels", "--leak-images", "3", "--json",
                                   "--tiny-vae", Fixtures.url("taesd", "taesd").path])
    #expect(result.status == 0, "\(result.stderr)")
    let document = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let sgemmRate = try #require(document["sgemm_gflops"] as? Double)
    #expect(sgemmRate > 0)
    let stages = try #require(document["stages"] as? [[String: Any]])
    let names = stages.compactMap { $0["name"] as? String }
    #expect(names == ["CLIP text encoder, 1 prompt", "UNet, batch 2 (guidance), 8x8 latents", "VAE encode 64x64",
                      "VAE decode 64x64", "img2img 64x64, 20 steps, strength 0.75",
                      "img2img 64x64, 4 LCM steps, strength 1, guidance 1, full VAE",
                      "img2img 64x64, 4 LCM steps, strength 1, guidance 1, tiny decoder",
                      "img2img 64x64, 4 LCM steps, strength 1, guidance 1, tiny encoder and decoder"])
    for stage in stages {
        let seconds = try #require(stage["seconds"] as? Double)
        let gflop = try #require(stage["gflop"] as? Double)
        let fraction = try #require(stage["fraction_of_sgemm"] as? Double)
        #expect(seconds > 0 && gflop > 0, "\(stage)")
        let stageSGEMMRate = try #require(stage["sgemm_gflops"] as? Double)
        #expect(stageSGEMMRate > 0)
        #expect(abs(fraction - gflop / seconds / stageSGEMMRate) < 1e-9 * max(1, fraction), "\(stage)")
        #expect((stage["peak_rss_bytes"] as? Int ?? 0) > 10_000_000, "\(stage)")
    }
    let residentFirst = try #require(document["resident_bytes_after_first_image"] as? Double)
    let residentLast = try #require(document["resident_bytes_after_last_image"] as? Double)
    #expect(residentFirst > 10_000_000 && residentLast > 10_000_000)
    // 15 of the 20 steps run at strength 0.75, each a guided (batch 2) UNet evaluation.
    let unetWork = try #require(stages[1]["gflop"] as? Double)
    let img2imgWork = try #require(stages[4]["gflop"] as? Double)
    #expect(img2imgWork > 15 * unetWork)
    // The few-step rows: 4 unguided (batch 1) evaluations, a fraction of the 20-step row's work;
    // the second row runs the other autoencoder (at full size the lighter one; not so in the fixtures).
    let fastWork = try #require(stages[5]["gflop"] as? Double)
    let tinyWork = try #require(stages[6]["gflop"] as? Double)
    #expect(fastWork > 1.5 * unetWork && fastWork < img2imgWork / 4)
    #expect(tinyWork > 0 && tinyWork != fastWork)
}

@Test func peakResidentMemoryFollowsAnAllocation() throws {
    #expect(ProcessMemory.resetPeak())
    let before = try #require(ProcessMemory.peakResidentBytes)
    let size = 256 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { buffer.deallocate() }
    for offset in stride(from: 0, to: size, by: 4096) { buffer.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
    let after = try #require(ProcessMemory.peakResidentBytes)
    // Other tests in this process may free memory meanwhile, so only the bounds that hold anyway.
    #expect(after >= before)
    #expect(after >= size)
    #expect(try #require(ProcessMemory.residentBytes) > 0)
}

/// Once set, a freed 48 MB block (above glibc's 32 MB ceiling for reusing mmapped blocks) comes
/// back for the next allocation of that size without its pages being faulted in again. Faults
/// are counted on this thread only, since other tests allocate meanwhile.
@Test func freedBlocksAreReusedWithoutFreshPageFaults() throws {
    #expect(ProcessMemory.keepFreedBlocksForReuse())
    let size = 48 << 20
    let pages = size / 4096
    func touchFreshBlock() throws -> Int {
        let before = try threadMinorFaults()
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { block.deallocate() }
        for offset in stride(from: 0, to: size, by: 4096) { block.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        return try threadMinorFaults() - before
    }
    _ = try touchFreshBlock()
    // A test on another thread sharing this arena may take the freed block in between: the
    // best of three shows whether reuse works.
    let faults = try (0..<3).map { _ in try touchFreshBlock() }
    #expect(faults.min() ?? pages < pages / 8, "\(faults)")
}

/// Minor page faults of the calling thread (`/proc/thread-self/stat`, field 10).
private func threadMinorFaults() throws -> Int {
    let stat = try String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)
    // The command name in parentheses may hold spaces; fields are counted after it.
    let fields = try #require(stat.split(separator: ")").last).split(separator: " ")
    return try #require(Int(fields[7]))
}

/// `--upscaler-image` runs the network once over a whole photo in tiles, as recipes/upscale.yaml
/// does, and reports it as its own stage; a malformed size is refused before anything runs.
@Test func benchRunsTheUpscalerOverAWholePhotoInTiles() throws {
    let network = Fixtures.root.appendingPathComponent("esrgan/rrdb.safetensors").path
    let result = try runOverpaint(["bench", "--upscaler", network, "--upscaler-size", "16",
                                   "--upscaler-image", "300x40", "--repetitions", "1", "--no-kernels", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let document = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let stages = try #require(document["stages"] as? [[String: Any]])
    #expect(stages.compactMap { $0["name"] as? String } == ["rrdb 16x16", "rrdb over 300x40 in 256-pixel tiles, to 2x"])
    // Two tiles of the 300-pixel width, each run with its context, do more work than one 16x16 tile.
    let work = stages.compactMap { $0["gflop"] as? Double }
    #expect(work.count == 2 && work[1] > 300 * 40 / (16 * 16) * work[0])
    #expect((stages[1]["peak_rss_bytes"] as? Int ?? 0) > 10_000_000)

    let refused = try runOverpaint(["bench", "--upscaler", network, "--upscaler-image", "300", "--no-kernels"])
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("--upscaler-image: expected WIDTHxHEIGHT"))
}

/// `bench --model` on an SDXL model times both text encoders, a UNet evaluation conditioned as
/// SDXL's pipelines condition it (pooled embeddings, time ids) and an img2img at strength 0.6.
@Test func benchTimesAnSDXLModel() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try tinySDXLFolder(in: folder)
    let result = try runOverpaint(["bench", "--model", model.path, "--size", "64", "--repetitions", "1", "--no-kernels", "--json",
                                   "--stages", "clip,unet,vae-decode,img2img"])
    #expect(result.status == 0, "\(result.stderr)")
    let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let stages = try #require(document["stages"] as? [[String: Any]])
    #expect(stages.compactMap { $0["name"] as? String } == [
        "text encoders (CLIP-L, OpenCLIP bigG), 1 prompt", "UNet, batch 2 (guidance), 8x8 latents", "VAE decode 64x64",
        "img2img 64x64, 20 steps, strength 0.6"])
    #expect(stages.allSatisfy { ($0["seconds"] as? Double ?? 0) > 0 && ($0["gflop"] as? Double ?? 0) > 0 })
}
