import Foundation
import Weights

/// The part of a Stable Diffusion model an adapter module changes.
public enum AdapterComponent: String, Sendable, CaseIterable, Comparable {
    case unet
    case textEncoder = "text_encoder"
    case textEncoder2 = "text_encoder_2"

    /// UNet first, then the text encoders in order.
    private var order: Int {
        switch self {
        case .unet: 0
        case .textEncoder: 1
        case .textEncoder2: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.order < rhs.order }
}

/// How an adapter file names its keys.
public enum AdapterLayout: String, Sendable {
    /// kohya-ss / A1111 / LyCORIS: `lora_unet_down_blocks_0_..._to_q.lora_down.weight`, the module's
    /// diffusers (or transformers) path with its dots made underscores.
    case kohya
    /// diffusers / PEFT: `unet.down_blocks.0....to_q.lora_A.weight`.
    case peft
    /// diffusers before PEFT (0.21 to 0.24): `unet.down_blocks.0....to_q.lora.down.weight`, text
    /// encoders' `text_encoder....q_proj.lora_linear_layer.down.weight`; no alpha (alpha = rank).
    case diffusers
}

/// How a module's update is made from its tensors.
public enum AdapterAlgorithm: String, Sendable, Comparable {
    /// ΔW = up @ down (LoRA; LoCon on convolutions).
    case lora = "LoRA"
    /// ΔW = (w1_a @ w1_b) ⊙ (w2_a @ w2_b) (LyCORIS LoHa, a Hadamard product of two low-rank products).
    case loha = "LoHa"
    /// ΔW = w1 ⊗ w2, each factor whole or low-rank (LyCORIS LoKr, a Kronecker product).
    case lokr = "LoKr"

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One adapted module of a file: which model module it targets and which of the file's tensors
/// make its update, by role (`lora_down.weight`, `hada_w1_a`, `alpha`, ...).
public struct AdapterModule: Sendable {
    public let component: AdapterComponent
    /// The module's name as the file writes it, without the component prefix
    /// (`down_blocks_0_attentions_0_proj_in` for kohya files, dotted for PEFT and diffusers ones).
    public let name: String
    public let algorithm: AdapterAlgorithm
    /// Tensor key by role; PEFT's `lora_A` / `lora_B` / `lora_magnitude_vector` (and old diffusers'
    /// `lora.down` / `lora.up`) are stored under kohya's `lora_down.weight` / `lora_up.weight` /
    /// `dora_scale`.
    public let parts: [String: String]

    /// Whether the update is weight-decomposed (DoRA: a magnitude per output or input channel).
    public var isDecomposed: Bool { parts["dora_scale"] != nil }
}

/// A LoRA or LyCORIS `.safetensors` file, its keys grouped into modules.
///
/// Every key must belong to a module of a known algorithm: a key no layout explains is an error
/// naming it, never skipped. Which model modules the names mean is decided when fusing
/// (`AdapterFusion`), against the model's own weight names.
public struct AdapterFile: Sendable {
    public let file: SafeTensorsFile
    public let layout: AdapterLayout
    /// Sorted by component, then name.
    public let modules: [AdapterModule]

    public var path: String { file.path }

    /// PEFT's `lora_alpha` per component, from the JSON diffusers' `save_lora_weights` stores under
    /// the metadata key `lora_adapter_metadata` (`{"unet.lora_alpha": 8, "unet.r": 4, ...}`).
    private let peftAlphas: [AdapterComponent: Float]

    /// The alpha of modules of `component` that store no `alpha` tensor (nil: alpha = rank).
    public func loraAlpha(for component: AdapterComponent) -> Float? { peftAlphas[component] }

    public init(url: URL) throws {
        try self.init(file: SafeTensorsFile(url: url))
    }

    public init(file: SafeTensorsFile) throws {
        var grouped: [String: (component: AdapterComponent, name: String, parts: [String: String])] = [:]
        var unrecognized: [String] = []
        var layouts: Set<AdapterLayout> = []
        for key in file.keys {
            guard let parsed = Self.parse(key) else {
                unrecognized.append(key)
                continue
            }
            layouts.insert(parsed.layout)
            let id = "\(parsed.component.rawValue) \(parsed.name)"
            grouped[id, default: (parsed.component, parsed.name, [:])].parts[parsed.role] = key
        }
        guard unrecognized.isEmpty, let layout = layouts.first, layouts.count == 1 else {
            let reported = AdapterError.reported(unrecognized.isEmpty ? file.keys : unrecognized)
            throw AdapterError.unrecognizedKeys(path: file.path, keys: reported.keys, count: reported.count)
        }
        var modules: [AdapterModule] = []
        for (_, group) in grouped.sorted(by: { $0.key < $1.key }) {
            guard let algorithm = Self.algorithm(of: group.parts) else {
                let reported = AdapterError.reported(Array(group.parts.values))
                throw AdapterError.unrecognizedKeys(path: file.path, keys: reported.keys, count: reported.count)
            }
            modules.append(AdapterModule(component: group.component, name: group.name, algorithm: algorithm, parts: group.parts))
        }
        self.file = file
        self.layout = layout
        peftAlphas = try Self.peftAlphas(file)
        self.modules = modules.sorted { ($0.component, $0.name) < ($1.component, $1.name) }
    }

    static let peftMetadataKey = "lora_adapter_metadata"

    static func peftAlphas(_ file: SafeTensorsFile) throws -> [AdapterComponent: Float] {
        guard let text = file.metadata[peftMetadataKey] else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw AdapterError.badMetadata(path: file.path, detail: "\(peftMetadataKey) is not a JSON object")
        }
        var alphas: [AdapterComponent: Float] = [:]
        for component in AdapterComponent.allCases {
            // Per-module alphas would need PEFT's pattern matching; refused rather than misapplied.
            if let pattern = object["\(component.rawValue).alpha_pattern"] as? [String: Any], !pattern.isEmpty {
                throw AdapterError.badMetadata(path: file.path, detail: "\(component.rawValue).alpha_pattern is not supported")
            }
            if let alpha = object["\(component.rawValue).lora_alpha"] as? NSNumber { alphas[component] = alpha.floatValue }
        }
        return alphas
    }

    /// kohya prefixes; `lora_te1_` / `lora_te2_` are SDXL's two text encoders.
    static let kohyaPrefixes: [(String, AdapterComponent)] = [
        ("lora_unet_", .unet), ("lora_te1_", .textEncoder), ("lora_te2_", .textEncoder2), ("lora_te_", .textEncoder),
    ]
    static let peftPrefixes: [(String, AdapterComponent)] = [
        ("unet.", .unet), ("text_encoder_2.", .textEncoder2), ("text_encoder.", .textEncoder),
    ]
    /// Roles after a kohya module name, by algorithm.
    static let roles: [AdapterAlgorithm: Set<String>] = [
        .lora: ["lora_down.weight", "lora_up.weight", "lora_mid.weight"],
        .loha: ["hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2"],
        .lokr: ["lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t1", "lokr_t2"],
    ]
    static let sharedRoles: Set<String> = ["alpha", "dora_scale"]
    /// PEFT suffixes and the kohya role each is kept under.
    static let peftRoles: [(String, String)] = [
        (".lora_A.weight", "lora_down.weight"), (".lora_B.weight", "lora_up.weight"),
        (".lora_magnitude_vector", "dora_scale"), (".alpha", "alpha"),
    ]
    /// Old diffusers suffixes (`LoRACompatibleLinear` / `Conv`, and the text encoders'
    /// `lora_linear_layer`) and the kohya role each is kept under.
    static let diffusersRoles: [(String, String)] = [
        (".lora.down.weight", "lora_down.weight"), (".lora.up.weight", "lora_up.weight"),
        (".lora_linear_layer.down.weight", "lora_down.weight"), (".lora_linear_layer.up.weight", "lora_up.weight"),
    ]

    static func parse(_ key: String) -> (layout: AdapterLayout, component: AdapterComponent, name: String, role: String)? {
        if let (prefix, component) = kohyaPrefixes.first(where: { key.hasPrefix($0.0) }) {
            let rest = key.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), dot > rest.startIndex else { return nil }
            let role = String(rest[rest.index(after: dot)...])
            guard sharedRoles.contains(role) || roles.values.contains(where: { $0.contains(role) }) else { return nil }
            return (.kohya, component, String(rest[..<dot]), role)
        }
        guard let (prefix, component) = peftPrefixes.first(where: { key.hasPrefix($0.0) }) else { return nil }
        for (layout, suffixes) in [(AdapterLayout.diffusers, diffusersRoles), (.peft, peftRoles)] {
            guard let (suffix, role) = suffixes.first(where: { key.hasSuffix($0.0) }) else { continue }
            let name = key.dropFirst(prefix.count).dropLast(suffix.count)
            return name.isEmpty ? nil : (layout, component, String(name), role)
        }
        return nil
    }

    /// The one algorithm whose roles (with `alpha` and `dora_scale`) cover every part, if any.
    static func algorithm(of parts: [String: String]) -> AdapterAlgorithm? {
        let specific = Set(parts.keys).subtracting(sharedRoles)
        let matching = roles.filter { !specific.isEmpty && specific.isSubset(of: $0.value) }.map(\.key)
        return matching.count == 1 ? matching[0] : nil
    }
}
