import Foundation

/// The HTML of `report.html` for a set of manifest entries (the latest per output).
struct ReportPage {
    let entries: [ManifestEntry]
    let latestRun: String?
    /// Whether a thumbnail (a path relative to the output folder) was written.
    let hasThumbnail: (String) -> Bool
    /// The counts of the run writing the report (skips are not in the manifest).
    var thisRun: RunSummary?

    init(entries: [ManifestEntry], latestRun: String?, thisRun: RunSummary? = nil, hasThumbnail: @escaping (String) -> Bool) {
        self.entries = entries
        self.latestRun = latestRun
        self.thisRun = thisRun
        self.hasThumbnail = hasThumbnail
    }

    var html: String {
        let failures = entries.filter { $0.status == .failed }
        let done = entries.filter { $0.status == .ok }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Overpaint report</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>\(Self.style)</style></head><body>
        <h1>Overpaint report</h1>
        \(summary(done: done, failed: failures))
        \(failures.isEmpty ? "" : "<h2>Failed (\(failures.count))</h2>\n<ul class=\"failures\">\n" + failures.map(failure).joined(separator: "\n") + "\n</ul>")
        <h2>Images (\(done.count))</h2>
        <label class="toggle"><input type="checkbox" id="masks"> show masks</label>
        <div class="images">
        \(done.map(card).joined(separator: "\n"))
        </div>
        <script>\(Self.script)</script>
        </body></html>
        """
    }

    private func summary(done: [ManifestEntry], failed: [ManifestEntry]) -> String {
        let total = entries.reduce(0) { $0 + $1.seconds }
        let mean = done.isEmpty ? 0 : done.reduce(0) { $0 + $1.seconds } / Double(done.count)
        let earlier = entries.filter { isEarlier($0) }.count
        var rows = [
            ("images", "\(entries.count) images, \(done.count) done, \(failed.count) failed"
                + (earlier > 0 ? " (\(earlier) from earlier runs)" : "")),
            ("time", String(format: "%.1f s in all, %.2f s per finished image", total, mean)),
            ("recipe", distinct(entries.map { URL(fileURLWithPath: $0.recipe).lastPathComponent })),
            ("model", distinct(entries.map { $0.model.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "none (model-free edits)" })),
            ("seed", seedPolicy),
            ("edits", distinct(entries.map { $0.edits.joined(separator: " → ") })),
        ]
        if let thisRun {
            rows.insert(("this run", "\(thisRun.succeeded) done, \(thisRun.failed) failed, \(thisRun.skipped) skipped (already complete)"
                + (thisRun.left > 0 ? ", \(thisRun.left) left" : "")), at: 1)
        }
        let cells = rows.map { "<tr><th>\($0.0)</th><td>\(Report.escape($0.1))</td></tr>" }.joined()
        return "<table class=\"summary\">\(cells)</table>"
    }

    private var seedPolicy: String {
        let seeds = Set(entries.map(\.seed))
        guard let first = seeds.first else { return "-" }
        if seeds.count == 1 { return "\(first) for every image" }
        return "per image, \(seeds.count) seeds from \(seeds.min()!) to \(seeds.max()!)"
    }

    private func distinct(_ values: [String]) -> String {
        var seen: [String] = []
        for value in values where !seen.contains(value) { seen.append(value) }
        return seen.isEmpty ? "-" : seen.joined(separator: "; ")
    }

    private func isEarlier(_ entry: ManifestEntry) -> Bool {
        latestRun != nil && entry.run != latestRun
    }

    private func earlierMark(_ entry: ManifestEntry) -> String {
        guard isEarlier(entry) else { return "" }
        return " <span class=\"earlier\">earlier run \(Report.escape(entry.run ?? entry.finished))</span>"
    }

    private func failure(_ entry: ManifestEntry) -> String {
        "<li data-input=\"\(Report.escape(entry.input))\"><b>\(Report.escape(entry.input))</b>\(earlierMark(entry)): "
            + "\(Report.escape(entry.error ?? "failed"))</li>"
    }

    /// One image: the after thumbnail with the before laid over it up to the slider, the mask
    /// over both when masks are shown, and the parameters below.
    private func card(_ entry: ManifestEntry) -> String {
        let thumbnail = { (kind: String) -> String? in
            let name = Report.thumbnailName(for: entry.output, kind: kind)
            return hasThumbnail(name) ? name : nil
        }
        var picture = ""
        if let after = thumbnail("after") {
            picture += "<a href=\"\(Report.link(entry.output))\"><img class=\"after\" src=\"\(Report.link(after))\" alt=\"after\"></a>"
            if let before = thumbnail("before") {
                picture += "<img class=\"before\" src=\"\(Report.link(before))\" alt=\"before\">"
            }
            if let mask = thumbnail("mask") {
                picture += "<img class=\"mask\" src=\"\(Report.link(mask))\" alt=\"mask\">"
            }
        }
        let slider = picture.contains("class=\"before\"")
            ? "<input class=\"slider\" type=\"range\" min=\"0\" max=\"100\" value=\"50\" aria-label=\"before / after\">"
                + "<div class=\"legend\"><span>before</span><span>after</span></div>"
            : ""
        return """
        <section class="card" data-input="\(Report.escape(entry.input))">
        <h3>\(Report.escape(entry.input))\(earlierMark(entry))</h3>
        <div class="compare">\(picture)</div>\(slider)
        <p class="output">→ <a href="\(Report.link(entry.output))">\(Report.escape(entry.output))</a>, \(String(format: "%.2f", entry.seconds)) s</p>
        \(parameterTable(entry))
        </section>
        """
    }

    private func parameterTable(_ entry: ManifestEntry) -> String {
        var rows: [(String, String)] = []
        if let text = entry.parameters {
            let parsed = A1111Parameters(text)
            if !parsed.prompt.isEmpty { rows.append(("Prompt", parsed.prompt)) }
            if !parsed.negativePrompt.isEmpty { rows.append(("Negative prompt", parsed.negativePrompt)) }
            rows += parsed.fields
        } else {
            rows = [("Seed", "\(entry.seed)"), ("Model", entry.model ?? "none")]
        }
        if let mask = entry.mask { rows.append(("Mask", mask)) }
        let cells = rows.map { "<tr><th>\(Report.escape($0.0))</th><td>\(Report.escape($0.1))</td></tr>" }.joined()
        return "<table class=\"parameters\">\(cells)</table>"
    }

    static let style = """
    body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
    table.summary th, table.parameters th { text-align: left; padding-right: 1em; vertical-align: top; font-weight: 600; }
    table.parameters { font-size: 0.85em; border-collapse: collapse; margin-top: 0.4em; }
    table.parameters td { word-break: break-word; }
    .failures li { color: #b00020; margin: 0.2em 0; }
    .images { display: flex; flex-wrap: wrap; gap: 1em; }
    .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8em; width: 300px; }
    .card h3 { font-size: 0.95em; margin: 0 0 0.5em; word-break: break-all; }
    .compare { position: relative; display: inline-block; line-height: 0; }
    .compare img { max-width: \(Report.thumbnailSize)px; max-height: \(Report.thumbnailSize)px; display: block; }
    .compare img.before { position: absolute; top: 0; left: 0; width: 100%; height: 100%; clip-path: inset(0 50% 0 0); }
    .compare img.mask { position: absolute; top: 0; left: 0; width: 100%; height: 100%; opacity: 0.5;
      mix-blend-mode: screen; display: none; pointer-events: none; }
    body.show-masks .compare img.mask { display: block; }
    .slider { width: \(Report.thumbnailSize)px; display: block; }
    .legend { width: \(Report.thumbnailSize)px; display: flex; justify-content: space-between; font-size: 0.75em; color: #666; }
    .earlier { font-size: 0.75em; font-weight: normal; background: #eee; color: #555; padding: 0 0.4em; border-radius: 3px; }
    .output { font-size: 0.85em; margin: 0.4em 0 0; word-break: break-all; }
    """

    /// The slider moves the before image's clip; the checkbox shows the masks. Once loaded, each
    /// image's natural width is written into `data-natural-width` (0 for one that did not load),
    /// which the browser test reads back.
    static let script = """
    document.querySelectorAll('.card').forEach(function (card) {
      var slider = card.querySelector('.slider'), before = card.querySelector('img.before');
      if (slider && before) slider.addEventListener('input', function () {
        before.style.clipPath = 'inset(0 ' + (100 - slider.value) + '% 0 0)';
      });
    });
    document.getElementById('masks').addEventListener('change', function (event) {
      document.body.classList.toggle('show-masks', event.target.checked);
    });
    window.addEventListener('load', function () {
      document.querySelectorAll('img').forEach(function (image) {
        image.setAttribute('data-natural-width', image.complete ? image.naturalWidth : 0);
      });
      document.body.setAttribute('data-loaded', 'true');
    });
    """
}

/// AUTOMATIC1111's `parameters` text read back: the prompt, the negative prompt and the
/// `Key: value` fields of the last line in order (quoted values unquoted), as A1111's
/// `parse_generation_parameters` reads them.
struct A1111Parameters {
    var prompt = ""
    var negativePrompt = ""
    var fields: [(String, String)] = []

    init(_ text: String) {
        var lines = text.components(separatedBy: "\n")
        let last = lines.popLast() ?? ""
        let pattern = try? NSRegularExpression(pattern: #"\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)"#)
        let range = NSRange(last.startIndex..., in: last)
        let matches = pattern?.matches(in: last, range: range) ?? []
        if matches.count < 3 { lines.append(last) }
        else {
            fields = matches.compactMap { match in
                guard let key = Range(match.range(at: 1), in: last), let value = Range(match.range(at: 2), in: last) else { return nil }
                var text = String(last[value])
                if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 {
                    // A1111's `unquote`: the JSON string `quote` wrote, else the text as it is.
                    text = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) as? String ?? text
                }
                return (String(last[key]), text)
            }
        }
        var promptLines: [String] = []
        var negativeLines: [String] = []
        for line in lines {
            if line.hasPrefix("Negative prompt:") {
                negativeLines.append(String(line.dropFirst("Negative prompt:".count)).trimmingCharacters(in: .whitespaces))
            } else if negativeLines.isEmpty {
                promptLines.append(line)
            } else {
                negativeLines.append(line)
            }
        }
        prompt = promptLines.joined(separator: "\n")
        negativePrompt = negativeLines.joined(separator: "\n")
    }
}
