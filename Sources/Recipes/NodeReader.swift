import Yams

/// Collects every problem found while reading a recipe instead of stopping at the first.
final class Diagnostics {
    private(set) var issues: [RecipeIssue] = []

    func report(_ message: String, at node: Node?, path: String) {
        let mark = node?.mark
        issues.append(RecipeIssue(line: mark?.line ?? 1, column: mark?.column ?? 1,
                                  keyPath: path, message: message))
    }
}

/// Typed, located access to one YAML mapping. Every key asked for is a known key: keys
/// never asked for are reported as unknown by `finish()`, with a did-you-mean.
final class MappingReader {
    let node: Node
    let path: String
    let diagnostics: Diagnostics
    private var pairs: [(key: String, keyNode: Node, value: Node)] = []
    private var knownKeys: [String] = []

    init?(_ node: Node, path: String, diagnostics: Diagnostics) {
        guard case .mapping(let mapping) = node else {
            diagnostics.report("expected a mapping, found \(node.kindName)", at: node, path: path)
            return nil
        }
        self.node = node
        self.path = path
        self.diagnostics = diagnostics
        for (key, value) in mapping {
            pairs.append((key.string ?? "\(key)", key, value))
        }
    }

    var keys: [String] { pairs.map(\.key) }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> Node? {
        knownKeys.append(key)
        return pairs.first { $0.key == key }?.value
    }

    func required(_ key: String) -> Node? {
        let found = value(key)
        if found == nil { diagnostics.report("missing required key '\(key)'", at: node, path: path) }
        return found
    }

    func string(_ key: String) -> String? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node, node.null == nil else {
            diagnostics.report("expected a string, found \(node.kindName)", at: node, path: childPath(key))
            return nil
        }
        return scalar.string
    }

    /// The integer at `key`, in `range` and passing `rule` (which returns the problem, if any);
    /// `fallback` when the key is absent or its value is reported.
    func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>,
             rule: (Int) -> String? = { _ in nil }) -> Int {
        guard let node = value(key) else { return fallback }
        guard let number = node.int else {
            diagnostics.report("expected an integer, found \(node.describedValue)", at: node, path: childPath(key))
            return fallback
        }
        return checked(number, key: key, node: node, in: range, rule: rule) ?? fallback
    }

    /// The number at `key`, in `range` and passing `rule`; `fallback` when the key is absent
    /// or its value is reported.
    func double(_ key: String, default fallback: Double, in range: ClosedRange<Double>,
                rule: (Double) -> String? = { _ in nil }) -> Double {
        guard let node = value(key) else { return fallback }
        guard let number = node.float ?? node.int.map(Double.init) else {
            diagnostics.report("expected a number, found \(node.describedValue)", at: node, path: childPath(key))
            return fallback
        }
        return checked(number, key: key, node: node, in: range, rule: rule) ?? fallback
    }

    private func checked<N: Comparable>(_ number: N, key: String, node: Node, in range: ClosedRange<N>,
                                        rule: (N) -> String?) -> N? {
        guard range.contains(number) else {
            diagnostics.report("\(number) is out of range \(range.lowerBound)...\(range.upperBound)",
                               at: node, path: childPath(key))
            return nil
        }
        if let problem = rule(number) {
            diagnostics.report(problem, at: node, path: childPath(key))
            return nil
        }
        return number
    }

    func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let node = value(key) else { return fallback }
        guard let flag = node.bool else {
            diagnostics.report("expected true or false, found \(node.describedValue)", at: node, path: childPath(key))
            return fallback
        }
        return flag
    }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String, default fallback: E) -> E where E.RawValue == String {
        guard let node = value(key), let text = stringScalar(node, key: key) else { return fallback }
        guard let chosen = E(rawValue: text) else {
            let options = E.allCases.map(\.rawValue)
            diagnostics.report("'\(text)' is not one of \(options.joined(separator: ", "))"
                               + didYouMean(text, among: options), at: node, path: childPath(key))
            return fallback
        }
        return chosen
    }

    func mapping(_ key: String) -> MappingReader? {
        guard let node = value(key) else { return nil }
        return MappingReader(node, path: childPath(key), diagnostics: diagnostics)
    }

    func sequence(_ key: String) -> [Node]? {
        guard let node = value(key) else { return nil }
        guard case .sequence(let items) = node else {
            diagnostics.report("expected a list, found \(node.kindName)", at: node, path: childPath(key))
            return nil
        }
        return Array(items)
    }

    /// Strings, or a single string standing for a one-element list.
    func strings(_ key: String) -> [String]? {
        guard let node = value(key) else { return nil }
        if case .scalar(let scalar) = node { return [scalar.string] }
        guard case .sequence(let items) = node else {
            diagnostics.report("expected a list of strings, found \(node.kindName)", at: node, path: childPath(key))
            return nil
        }
        return items.enumerated().compactMap { index, item in
            guard case .scalar(let scalar) = item else {
                diagnostics.report("expected a string, found \(item.kindName)", at: item, path: "\(childPath(key))[\(index)]")
                return nil
            }
            return scalar.string
        }
    }

    /// Reports every key present that was never asked for.
    func finish() {
        for pair in pairs where !knownKeys.contains(pair.key) {
            diagnostics.report("unknown key '\(pair.key)'" + didYouMean(pair.key, among: knownKeys),
                               at: pair.keyNode, path: path)
        }
    }

    private func stringScalar(_ node: Node, key: String) -> String? {
        guard case .scalar(let scalar) = node else {
            diagnostics.report("expected a string, found \(node.kindName)", at: node, path: childPath(key))
            return nil
        }
        return scalar.string
    }
}

/// ` (did you mean 'x'?)` when a candidate is within a small edit distance, else empty.
func didYouMean(_ word: String, among candidates: [String]) -> String {
    if let foreign = foreignKeyNames[word.lowercased()], candidates.contains(foreign.key) {
        let possessive = foreign.tool.hasSuffix("s") ? foreign.tool + "'" : foreign.tool + "'s"
        return " (\(possessive) name; here it is '\(foreign.key)')"
    }
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, best.0.count / 3) else { return "" }
    return " (did you mean '\(best.0)'?)"
}

/// Other tools' names for recipe keys, lowercased: AUTOMATIC1111's UI and API, ComfyUI's
/// KSampler, diffusers' pipeline arguments. A suggestion is made only where the key exists.
let foreignKeyNames: [String: (key: String, tool: String)] = [
    "sampler": ("scheduler", "A1111"), "sampler_name": ("scheduler", "A1111 / ComfyUI"),
    "sampler_index": ("scheduler", "A1111"),
    "cfg": ("guidance", "ComfyUI"), "cfg_scale": ("guidance", "A1111"), "cfg scale": ("guidance", "A1111"),
    "guidance_scale": ("guidance", "diffusers"),
    "denoise": ("strength", "ComfyUI"), "denoising_strength": ("strength", "A1111"),
    "denoising strength": ("strength", "A1111"),
    "num_inference_steps": ("steps", "diffusers"), "sampling steps": ("steps", "A1111"),
    "negative": ("negative_prompt", "ComfyUI"), "clip skip": ("clip_skip", "A1111"),
    "clip_stop_at_last_layers": ("clip_skip", "A1111"),
    "inpainting_fill": ("fill", "A1111"), "masked content": ("fill", "A1111"),
    "inpaint_full_res": ("area", "A1111"), "inpaint area": ("area", "A1111"),
    "inpaint_full_res_padding": ("padding", "A1111"), "only masked padding, pixels": ("padding", "A1111"),
    "controlnet_conditioning_scale": ("scale", "diffusers"), "control_guidance_start": ("start", "diffusers"),
    "control_guidance_end": ("end", "diffusers"), "denoising_end": ("refiner_switch", "diffusers"),
    "lora": ("loras", "A1111"), "ckpt_name": ("model", "ComfyUI"), "sd_model_checkpoint": ("model", "A1111"),
    "vae_name": ("vae", "ComfyUI"), "sd_vae": ("vae", "A1111"),
    "sd_vae_encode_method": ("vae_encoder", "A1111"),
]

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

extension Node {
    var kindName: String {
        switch self {
        case .scalar: null != nil ? "null" : "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    var describedValue: String {
        if case .scalar(let scalar) = self { return null != nil ? "null" : "'\(scalar.string)'" }
        return kindName
    }
}
