import Foundation
import Testing
@testable import Batch

private func entry(_ input: String, status: ManifestEntry.Status = .ok, run: String? = "2026-12-02T20:00:00Z",
                   error: String? = nil, parameters: String? = nil) -> ManifestEntry {
    ManifestEntry(input: input, output: input, mask: nil, status: status, error: error, edits: ["img2img"], seed: 7,
                  recipe: "/r/restyle.yaml", model: "/models/dream", seconds: 2, sha256: nil, fingerprint: nil,
                  finished: "", version: "0", parameters: parameters, run: run)
}

@Test func linksPercentEncodeEachPathSegment() {
    #expect(Report.link("report/photo#1.png") == "report/photo%231.png")
    #expect(Report.link("a b/what?.png") == "a%20b/what%3F.png")
    #expect(Report.link("100%.png") == "100%25.png")
    #expect(Report.link("café.png") == "caf%C3%A9.png")
}

@Test func failuresComeFirstWithTheirReasonsAndEarlierRunsAreMarked() {
    let page = ReportPage(
        entries: [entry("a.png"), entry("b.png", status: .failed, error: "b.png: not an image"),
                  entry("c.png", run: "2026-12-01T08:00:00Z")],
        latestRun: "2026-12-02T20:00:00Z", hasThumbnail: { _ in false }).html
    let failure = page.range(of: "b.png: not an image")
    let firstCard = page.range(of: "<section class=\"card\"")
    #expect(failure != nil && firstCard != nil && failure!.lowerBound < firstCard!.lowerBound)
    #expect(page.contains("3 images, 2 done, 1 failed (1 from earlier runs)"))
    #expect(page.components(separatedBy: "earlier run 2026-12-01T08:00:00Z").count == 2)
    #expect(!page.contains("earlier run 2026-12-02"))
}

@Test func eachImageShowsTheParametersThatMadeIt() {
    let text = """
    a <watercolor> painting
    Negative prompt: blurry
    Steps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 7, Size: 64x64, Model: dream, Denoising strength: 0.6, Lora hashes: "ink: 1a2b, pen: 3c4d"
    """
    let page = ReportPage(entries: [entry("a.png", parameters: text)], latestRun: nil, hasThumbnail: { _ in true }).html
    for row in ["<th>Prompt</th><td>a &lt;watercolor&gt; painting</td>", "<th>Negative prompt</th><td>blurry</td>",
                "<th>Sampler</th><td>DDIM</td>", "<th>Denoising strength</th><td>0.6</td>",
                "<th>Lora hashes</th><td>ink: 1a2b, pen: 3c4d</td>", "<th>CFG scale</th><td>7.5</td>"] {
        #expect(page.contains(row), "\(row)")
    }
    #expect(page.contains("class=\"slider\"") && page.contains("img class=\"mask\""))
    #expect(page.contains("<th>seed</th><td>7 for every image</td>"))
}
