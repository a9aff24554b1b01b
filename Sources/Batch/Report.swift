import Foundation
import Imaging

/// `report.html` in the output folder: a summary, the failures with their reasons, then every
/// image with its before and after compared in place (a slider), the mask overlaid on demand
/// and the parameters that made it. Rebuilt from the manifest at the end of each run (the
/// latest entry per output, so a rerun never duplicates a row), so resumed and sharded runs
/// report everything done so far; rows another run wrote are marked with that run's start.
/// Self-contained: inline CSS and JS, thumbnails as relative files under `report/`.
struct Report {
    static let fileName = "report.html"
    static let thumbnailFolder = "report"
    static let thumbnailSize = 256

    let output: OutputFolder
    let manifest: Manifest
    /// This run's id (`ManifestEntry.run`); rows of any other run are marked as earlier.
    var latestRun: String?
    /// The counts of the run writing the report, shown in its summary.
    var thisRun: RunSummary?

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
        let page = ReportPage(entries: entries, latestRun: latestRun, thisRun: thisRun) { thumbnail in
            FileManager.default.fileExists(atPath: output.url(for: thumbnail).path)
        }
        try output.writeAtomically(Self.fileName) { temporary in
            try Data(page.html.utf8).write(to: temporary)
        }
    }

    /// `text` safe inside HTML text and double-quoted attributes.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// A relative path as a URL: each segment percent-encoded (`#`, `?`, `%`, spaces, non-ASCII),
    /// the slashes kept, then HTML-escaped for an attribute.
    static func link(_ relativePath: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        let segments = relativePath.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        return escape(segments.joined(separator: "/"))
    }
}
