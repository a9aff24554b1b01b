/// Which Stable Diffusion variant a UNet or ControlNet is, read from its tensor shapes.
///
/// This matches the rules of diffusers' `infer_diffusers_model_type`: the cross-attention context
/// width tells SD 1.x (768, CLIP ViT-L) from SD 2.x (1024, OpenCLIP ViT-H); `conv_in` with 9
/// input channels is an inpainting UNet; 7 input channels with a class embedding (the noise level)
/// is the x4 upscaler. SDXL UNets and ControlNets carry `add_embedding` (text_time); the refiner's
/// context is OpenCLIP bigG's 1280 alone, the base's 2048 (CLIP-L and bigG concatenated).
public struct ModelFamily: Equatable, Sendable, CustomStringConvertible {
    public enum Generation: Equatable, Sendable {
        case sd1, sd2
        /// SDXL base (and its inpainting and ControlNet models).
        case sdxl
        /// The SDXL refiner: text_time conditioning on OpenCLIP bigG alone.
        case sdxlRefiner
        /// A context width that is neither (tiny test models, or an architecture not supported).
        case other(contextDimension: Int?)
    }

    public enum Kind: Equatable, Sendable {
        case textToImage, inpainting, x4Upscaler, controlNet
    }

    public let generation: Generation
    public let kind: Kind
    /// `conv_in`'s input channels (4 for text-to-image, 9 inpainting, 7 upscaler).
    public let inputChannels: Int?

    public init(generation: Generation, kind: Kind, inputChannels: Int?) {
        self.generation = generation
        self.kind = kind
        self.inputChannels = inputChannels
    }

    /// Reads the family from diffusers-named UNet or ControlNet tensors.
    public init(diffusersNamed source: any ParameterSource) throws {
        let keys = source.keys
        inputChannels = keys.contains("conv_in.weight") ? try source.shape(of: "conv_in.weight").dropFirst().first : nil
        let contextKey = keys.first { $0.hasSuffix("attn2.to_k.weight") }
        let context = try contextKey.map { try source.shape(of: $0).last ?? 0 }
        switch context {
        case _ where keys.contains("add_embedding.linear_1.weight"): generation = context == 1280 ? .sdxlRefiner : .sdxl
        case 768: generation = .sd1
        case 1024: generation = .sd2
        default: generation = .other(contextDimension: context)
        }
        if keys.contains("controlnet_cond_embedding.conv_in.weight") {
            kind = .controlNet
        } else if inputChannels == 9 {
            kind = .inpainting
        } else if inputChannels == 7, keys.contains("class_embedding.weight") {
            kind = .x4Upscaler
        } else {
            kind = .textToImage
        }
    }

    public var description: String {
        let base: String
        switch generation {
        case .sd1: base = "SD 1.x"
        case .sd2: base = "SD 2.x"
        case .sdxl: base = "SDXL"
        case .sdxlRefiner: base = "SDXL refiner"
        case let .other(dimension): base = "unknown (context \(dimension.map(String.init) ?? "none"))"
        }
        switch kind {
        case .textToImage: return base
        case .inpainting: return "\(base) inpainting"
        case .x4Upscaler: return "SD x4 upscaler"
        case .controlNet: return "\(base) ControlNet"
        }
    }
}
