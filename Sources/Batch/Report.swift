import Foundation
import Imaging

/// `report.html` in the output folder: before / mask / after thumbnails side by side for
/// every image in the manifest, failures with their reason. Rebuilt from the manifest at
/// the end of each run, so resumed and sharded runs report everything done so far.
struct Report {
    static let fileName = "report.html"
    static let thumbnailFolder = "report"
    static let thumbnailSize = 256

    let output: OutputFolder
    let manifest: Manifest

    /// `report/<output, / as __>.<kind>.jpg`; a name too long for the file system keeps its
    /// first 100 bytes and adds a hash of the whole, so outputs of up to 255 bytes get thumbnails.
    static func thumbnailName(for output: String, kind: String) -> String {
        var flat = output.replacingOccurrences(of: "/", with: "__")
        if flat.utf8.count > 200 {
            var kept = ""
            for character in flat {
                guard kept.utf8.count + character.utf8.count <= 100 else { break }
                kept.append(character)
            }
            flat = kept + "-" + String(ContentHash.sha256(of: Data(output.utf8)).prefix(16))
        }
        return "\(thumbnailFolder)/\(flat).\(kind).jpg"
    }

    static func writeThumbnails(for job: Job, result: EditResult, output: OutputFolder) throws {
        let pictures: [(String, Image?)] = [("before", result.before), ("mask", result.mask), ("after", result.image)]
        for case let (kind, image?) in pictures {
            let thumbnail = image.resized(toFit: thumbnailSize, thumbnailSize, mode: .fit, filter: .bilinear)
            try output.writeAtomically(thumbnailName(for: job.output, kind: kind)) { temporary in
                try ImageFile.write(thumbnail, to: temporary, format: .jpeg, quality: 85)
            }
        }
    }

    func write() throws {
        let entries = manifest.latestEntries().values.sorted { $0.input < $1.input }
        let rows = entries.map(row).joined(separator: "\n")
        let failed = entries.filter { $0.status == .failed }.count
        let html = """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>Overpaint report</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; }
        table { border-collapse: collapse; }
        td, th { padding: 6px 10px; border-bottom: 1px solid #ddd; vertical-align: top; text-align: left; }
        img { max-width: \(Self.thumbnailSize)px; max-height: \(Self.thumbnailSize)px; display: block; }
        .failed { color: #b00020; }
        </style></head><body>
        <h1>Overpaint report</h1>
        <p>\(entries.count) images, \(entries.count - failed) done, \(failed) failed.</p>
        <table>
        <tr><th>image</th><th>before</th><th>mask</th><th>after</th><th>seconds</th></tr>
        \(rows)
        </table></body></html>
        """
        try output.writeAtomically(Self.fileName) { temporary in
            try Data(html.utf8).write(to: temporary)
        }
    }

    private func row(_ entry: ManifestEntry) -> String {
        let name = Self.escape(entry.input)
        guard entry.status == .ok else {
            return "<tr class=\"failed\"><td>\(name)</td><td colspan=\"4\">\(Self.escape(entry.error ?? "failed"))</td></tr>"
        }
        let cells = ["before", "mask", "after"].map { kind -> String in
            let thumbnail = Self.thumbnailName(for: entry.output, kind: kind)
            guard FileManager.default.fileExists(atPath: output.url(for: thumbnail).path) else { return "<td></td>" }
            let link = kind == "after" ? Self.escape(entry.output) : thumbnail
            return "<td><a href=\"\(link)\"><img src=\"\(Self.escape(thumbnail))\" alt=\"\(kind)\"></a></td>"
        }
        return "<tr><td>\(name)<br><small>\(Self.escape(entry.edits.joined(separator: " → ")))</small></td>"
            + cells.joined() + "<td>\(entry.seconds)</td></tr>"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
