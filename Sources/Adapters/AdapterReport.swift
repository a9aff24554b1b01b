import Foundation
import Weights

/// What `overpaint models inspect` says about a LoRA / LyCORIS file, from its header (and its
/// scalar `alpha`s): layout and algorithms, ranks, what it adapts, and the model family it is for.
public struct AdapterReport: Codable, Sendable, Equatable {
    public var path: String
    /// "kohya", "peft" or "diffusers".
    public var layout: String
    /// "LoRA", "LoCon" (LoRA on convolutions with a kernel), "LoHa", "LoKr", each with "+DoRA" when
    /// weight-decomposed; sorted.
    public var formats: [String]
    /// The distinct ranks; a LoKr factor stored whole has none.
    public var ranks: [Int]
    /// Adapted modules per component ("unet", "text_encoder", "text_encoder_2").
    public var targets: [String: Int]
    /// "SD1", "SD2", "SDXL" or "unknown".
    public var baseFamily: String
    /// Where `baseFamily` comes from: the trainer's metadata or the shapes.
    public var familyBasis: String

    public init(_ adapter: AdapterFile) throws {
        path = adapter.path
        layout = adapter.layout.rawValue
        var formats: Set<String> = [], ranks: Set<Int> = []
        for module in adapter.modules {
            var format = module.algorithm.rawValue
            if module.algorithm == .lora, let down = module.parts["lora_down.weight"],
               try adapter.file.shape(of: down).dropFirst(2).contains(where: { $0 > 1 }) {
                format = "LoCon"
            }
            formats.insert(format + (module.isDecomposed ? "+DoRA" : ""))
            if let rank = try Self.rank(of: module, in: adapter.file) { ranks.insert(rank) }
        }
        self.formats = formats.sorted()
        self.ranks = ranks.sorted()
        targets = Dictionary(grouping: adapter.modules, by: \.component.rawValue).mapValues(\.count)
        (baseFamily, familyBasis) = try Self.family(adapter)
    }

    static func rank(of module: AdapterModule, in file: SafeTensorsFile) throws -> Int? {
        switch module.algorithm {
        case .lora: try module.parts["lora_down.weight"].map { try file.shape(of: $0)[0] }
        case .loha: try module.parts["hada_w1_b"].map { try file.shape(of: $0)[0] }
        case .lokr: try (module.parts["lokr_w1_a"] ?? module.parts["lokr_w2_a"]).map { try file.shape(of: $0)[1] }
        }
    }

    /// kohya's `ss_base_model_version` or the model spec's `modelspec.architecture` when written,
    /// else the shapes: a second text encoder is SDXL; otherwise the cross-attention key
    /// projection's input width (the text encoder's: 768 SD 1.x, 1024 SD 2.x, 2048 SDXL).
    static func family(_ adapter: AdapterFile) throws -> (String, String) {
        let metadata = adapter.file.metadata
        if let version = metadata["ss_base_model_version"] ?? metadata["modelspec.architecture"] {
            let lowered = version.lowercased()
            let family = lowered.contains("xl") ? "SDXL" : lowered.contains("v2") ? "SD2" : lowered.contains("v1") ? "SD1" : "unknown"
            return (family, "metadata '\(version)'")
        }
        if adapter.modules.contains(where: { $0.component == .textEncoder2 }) { return ("SDXL", "a second text encoder") }
        let crossAttentionKeys = adapter.modules.filter {
            $0.component == .unet && ($0.name.hasSuffix("attn2_to_k") || $0.name.hasSuffix("attn2.to_k"))
        }
        for module in crossAttentionKeys {
            let input = try module.parts["lora_down.weight"].map { try adapter.file.shape(of: $0)[1] }
                ?? module.parts["hada_w1_b"].map { try adapter.file.shape(of: $0)[1] }
            guard let width = input else { continue }
            let family = [768: "SD1", 1024: "SD2", 2048: "SDXL"][width] ?? "unknown"
            return (family, "cross-attention width \(width)")
        }
        return ("unknown", "no metadata or cross-attention module")
    }

    public var summary: String {
        let targetText = targets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value) modules" }.joined(separator: ", ")
        let rankText = ranks.isEmpty ? "none (whole factors)" : ranks.map(String.init).joined(separator: ", ")
        return """
        path:       \(path)
        adapter:    \(formats.joined(separator: ", ")) (\(layout) layout)
        rank:       \(rankText)
        targets:    \(targetText)
        family:     \(baseFamily) (from \(familyBasis))
        """
    }
}
