import Foundation

/// The key prefix of each component in a single-file checkpoint (the original LDM layout, and
/// SDXL's `conditioner.embedders`), the one table that reading and writing such files use.
public enum LDMPrefix {
    public static let unet = "model.diffusion_model."
    public static let vae = "first_stage_model."
    /// SD 1.x's CLIP text encoder.
    public static let clip = "cond_stage_model.transformer."
    /// SD 2.x's OpenCLIP text encoder.
    public static let openCLIP = "cond_stage_model.model."
    /// A ControlNet inside a larger file; a bare ControlNet file has no prefix.
    public static let controlNet = "control_model."
    /// The SDXL base's CLIP-L.
    public static let sdxlCLIP = "conditioner.embedders.0.transformer."
    /// The SDXL base's OpenCLIP bigG.
    public static let sdxlOpenCLIP = "conditioner.embedders.1.model."
    /// The SDXL refiner's OpenCLIP bigG, its only text encoder.
    public static let refinerOpenCLIP = "conditioner.embedders.0.model."
}

/// A single `.safetensors` checkpoint in the original LDM key layout, seen component by component
/// under diffusers names.
///
/// Recognised prefixes: `model.diffusion_model.` (UNet), `first_stage_model.` (VAE),
/// `cond_stage_model.transformer.` (SD 1.x CLIP), `cond_stage_model.model.` (SD 2.x OpenCLIP),
/// SDXL's `conditioner.embedders.0.transformer.` (CLIP-L) and `conditioner.embedders.1.model.`
/// (OpenCLIP bigG; `.0.model.` alone in the refiner), `control_model.` (ControlNet), and bare
/// ControlNet files (`input_blocks...`, `input_hint_block...`).
public struct SingleFileCheckpoint: Sendable {
    public enum TextEncoderLayout: Sendable, Equatable {
        case clip, openCLIP
        /// SDXL base: CLIP-L and OpenCLIP bigG.
        case sdxl
        /// SDXL refiner: OpenCLIP bigG alone.
        case sdxlRefiner

        /// SDXL's encoders, whose UNet takes the text_time embedding.
        public var isSDXL: Bool { self == .sdxl || self == .sdxlRefiner }
    }

    public let file: SafeTensorsFile
    public let hasUNet: Bool
    public let hasVAE: Bool
    public let textEncoderLayout: TextEncoderLayout?
    /// The key prefix of the ControlNet tensors ("" for a bare ControlNet file), if there are any.
    public let controlNetPrefix: String?

    public init(file: SafeTensorsFile) throws {
        let keys = file.keys
        func any(_ prefix: String) -> Bool { keys.contains { $0.hasPrefix(prefix) } }
        hasUNet = any(LDMPrefix.unet)
        hasVAE = any(LDMPrefix.vae)
        textEncoderLayout = any(LDMPrefix.clip) ? .clip : any(LDMPrefix.openCLIP) ? .openCLIP
            : any(LDMPrefix.sdxlOpenCLIP) ? .sdxl : any(LDMPrefix.refinerOpenCLIP) ? .sdxlRefiner : nil
        if any(LDMPrefix.controlNet) {
            controlNetPrefix = LDMPrefix.controlNet
        } else if any("input_hint_block."), any("input_blocks.") {
            controlNetPrefix = ""
        } else {
            controlNetPrefix = nil
        }
        self.file = file
        guard hasUNet || hasVAE || textEncoderLayout != nil || controlNetPrefix != nil else {
            throw WeightsError.unrecognizedLayout(
                path: file.path, detail: "no LDM key prefix found; first key is '\(keys.first ?? "none")'")
        }
    }

    /// The UNet under diffusers names.
    public func unet() throws -> RenamedParameterSource {
        let stripped = try component(LDMPrefix.unet, present: hasUNet, what: "UNet")
        let layersPerBlock = Self.layersPerBlock(stripped)
        let textTime = textEncoderLayout?.isSDXL ?? false
        return RenamedParameterSource(stripped) { LDMKeyMap.unet($0, layersPerBlock: layersPerBlock, textTime: textTime) }
    }

    /// The VAE under diffusers names (attention projections as linear weights).
    public func vae() throws -> RenamedParameterSource {
        let stripped = try component(LDMPrefix.vae, present: hasVAE, what: "VAE")
        let upBlocks = Set(stripped.keys.compactMap { Self.index(after: "decoder.up.", in: $0) }).count
        return RenamedParameterSource(stripped) { LDMKeyMap.vae($0, upBlockCount: upBlocks) }
    }

    /// The (first) text encoder under transformers 5 `CLIPTextModel` names (q/k/v split for OpenCLIP).
    public func textEncoder() throws -> RenamedParameterSource {
        switch textEncoderLayout {
        case .clip:
            return RenamedParameterSource(try component(LDMPrefix.clip, present: true, what: "text encoder"), rename: LDMKeyMap.clip)
        case .openCLIP:
            return RenamedParameterSource(try component(LDMPrefix.openCLIP, present: true, what: "text encoder"), rename: LDMKeyMap.openCLIP)
        case .sdxl:
            return RenamedParameterSource(try component(LDMPrefix.sdxlCLIP, present: true, what: "CLIP-L text encoder"),
                                          rename: LDMKeyMap.clip)
        case .sdxlRefiner:
            throw WeightsError.unrecognizedLayout(path: file.path, detail: "an SDXL refiner has no first text encoder")
        case nil:
            throw WeightsError.unrecognizedLayout(path: file.path, detail: "no text encoder (cond_stage_model.* or conditioner.*) in the file")
        }
    }

    /// SDXL's OpenCLIP bigG under transformers 5 `CLIPTextModelWithProjection` names.
    public func textEncoder2() throws -> RenamedParameterSource {
        let prefix: String
        switch textEncoderLayout {
        case .sdxl: prefix = LDMPrefix.sdxlOpenCLIP
        case .sdxlRefiner: prefix = LDMPrefix.refinerOpenCLIP
        default: throw WeightsError.unrecognizedLayout(path: file.path, detail: "no SDXL OpenCLIP bigG (conditioner.embedders.*.model.*) in the file")
        }
        return RenamedParameterSource(try component(prefix, present: true, what: "OpenCLIP bigG"),
                                      rename: LDMKeyMap.openCLIPWithProjection)
    }

    /// The ControlNet under diffusers names.
    public func controlNet() throws -> RenamedParameterSource {
        let stripped = try component(controlNetPrefix ?? "", present: controlNetPrefix != nil, what: "ControlNet")
        let layersPerBlock = Self.layersPerBlock(stripped)
        return RenamedParameterSource(stripped) { LDMKeyMap.controlNet($0, layersPerBlock: layersPerBlock) }
    }

    /// The family of the UNet (or, in a ControlNet file, of the ControlNet).
    public func family() throws -> ModelFamily {
        try ModelFamily(diffusersNamed: hasUNet ? unet() : controlNet())
    }

    private func component(_ prefix: String, present: Bool, what: String) throws -> RenamedParameterSource {
        guard present else {
            throw WeightsError.unrecognizedLayout(path: file.path, detail: "no \(what) tensors (\(prefix)*) in the file")
        }
        return RenamedParameterSource(file, include: { $0.hasPrefix(prefix) }) { .tensors([RenamedTensor(String($0.dropFirst(prefix.count)))]) }
    }

    /// diffusers' `layers_per_block`: input block `L + 1` of the first level holds its downsampler
    /// (`input_blocks.{L+1}.0.op`); a UNet with one level has `L` input blocks after `conv_in`.
    static func layersPerBlock(_ source: any ParameterSource) -> Int {
        let downsamplers = source.keys.filter { $0.contains(".0.op.") }.compactMap { index(after: "input_blocks.", in: $0) }
        if let first = downsamplers.min() { return first - 1 }
        return max(1, (Set(source.keys.compactMap { index(after: "input_blocks.", in: $0) }).max() ?? 1))
    }

    /// The integer right after `prefix` in `key` ("input_blocks.12.0..." -> 12).
    static func index(after prefix: String, in key: String) -> Int? {
        guard key.hasPrefix(prefix) else { return nil }
        return Int(key.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}
