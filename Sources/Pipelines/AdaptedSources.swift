import Adapters
import Weights

/// A Stable Diffusion checkpoint's UNet and text encoder weights (both of SDXL's) with LoRA /
/// LyCORIS adapters fused in (`AdapterFusion`): the sources the models are then built from,
/// strictly, as without adapters.
struct AdaptedSources {
    let unet: any ParameterSource
    let textEncoder: any ParameterSource
    /// SDXL's text_encoder_2 (OpenCLIP bigG); nil for SD 1.x / 2.x.
    let textEncoder2: (any ParameterSource)?

    init(unet: any ParameterSource, textEncoder: any ParameterSource, textEncoder2: (any ParameterSource)? = nil,
         adapters: [WeightedAdapter]) throws {
        var components: [AdapterComponent: any ParameterSource] = [.unet: unet, .textEncoder: textEncoder]
        components[.textEncoder2] = textEncoder2
        let fused = try AdapterFusion.fuse(adapters, into: components)
        self.unet = fused[.unet] ?? unet
        self.textEncoder = fused[.textEncoder] ?? textEncoder
        self.textEncoder2 = fused[.textEncoder2] ?? textEncoder2
    }
}
