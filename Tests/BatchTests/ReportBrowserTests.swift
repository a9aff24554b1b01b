import Foundation
import Imaging
import Testing
@testable import Batch
import OverpaintTestSupport

/// chromium on the PATH, if any.
private let chromium: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    .map { URL(fileURLWithPath: String($0)).appendingPathComponent("chromium") }
    .first { FileManager.default.isExecutableFile(atPath: $0.path) }

/// scripts/test (and CI) install chromium and require this test to run.
private let browserRequired = ["CI", "OVERPAINT_REQUIRE_BROWSER"].contains {
    ["1", "true"].contains(ProcessInfo.processInfo.environment[$0] ?? "")
}

/// Names that break unencoded URLs, and one file that is no image.
private let awkwardNames = ["photo#1.png", "a b?.png", "100%.png", "café.png"]

/// The DOM of `page` after headless Chromium loaded it and ran its scripts.
private func renderedDOM(_ page: URL) throws -> String {
    let browser = try #require(chromium, "chromium is not installed: scripts/install-deps installs it")
    let profile = try makeScratchFolder("chromium")
    defer { try? FileManager.default.removeItem(at: profile) }
    let dom = try OutputCapture(at: profile.appendingPathComponent("dom.html"))
    defer { dom.close() }
    let process = Process()
    process.executableURL = browser
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                         "--virtual-time-budget=5000", "--dump-dom", page.absoluteString]
    process.standardOutput = dom.handle
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return try dom.text()
}

@Test(.enabled(if: chromium != nil || browserRequired, "chromium is not installed (scripts/install-deps installs it)"))
func theReportRendersInABrowserWithEveryImageLoaded() throws {
    let folder = try makeScratchFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let input = folder.appendingPathComponent("in")
    for (index, name) in awkwardNames.enumerated() {
        try write(testPhoto(width: 40, height: 30, seed: index), input.appendingPathComponent(name))
        try write(rectangleMask(width: 40, height: 30, x: 10..<20, y: 5..<15),
                  input.appendingPathComponent("masks/\((name as NSString).deletingPathExtension).png"))
    }
    try Data("not an image".utf8).write(to: input.appendingPathComponent("broken.png"))
    try write(rectangleMask(width: 40, height: 30, x: 1..<2, y: 1..<2), input.appendingPathComponent("masks/broken.png"))
    let recipeURL = folder.appendingPathComponent("recipe.yaml")
    try fillRecipe.write(to: recipeURL, atomically: true, encoding: .utf8)
    let output = folder.appendingPathComponent("out")
    let arguments = ["run", recipeURL.path, "--input", input.path, "--output", output.path]
    let first = try runOverpaint(arguments)
    #expect(first.status == 1, "\(first.stderr)")
    // A second run into the same folder: the rows stay one per image, marked as an earlier run's.
    let second = try runOverpaint(arguments + ["--resume"])
    #expect(second.status == 1, "\(second.stderr)")

    let dom = try renderedDOM(output.appendingPathComponent("report.html"))
    #expect(dom.contains("data-loaded=\"true\""), "the page's load handler did not run")
    let images = dom.components(separatedBy: "<img ").dropFirst()
    #expect(images.count == awkwardNames.count * 3)
    for image in images {
        let attribute = image.range(of: #"data-natural-width="[0-9]+""#, options: .regularExpression)
        let width = attribute.flatMap { Int(image[$0].filter(\.isNumber)) } ?? 0
        #expect(width > 0, "an image did not load: <img \(image.prefix(200))")
    }
    for name in awkwardNames + ["broken.png"] {
        #expect(dom.components(separatedBy: "data-input=\"\(Report.escape(name))\"").count == 2, "\(name) listed once")
    }
    #expect(dom.contains("broken.png") && dom.contains("Failed (1)"))
}
