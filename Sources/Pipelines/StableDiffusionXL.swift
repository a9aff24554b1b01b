import Foundation
import Models
import Prompts
import Tensors
import Weights

/// What an SDXL pipeline has beside the SD components: the second tokenizer and text encoder
/// (OpenCLIP bigG with its projection), and the conditioning settings of its model_index.json.
///
/// This implementation matches: diffusers 0.42.1 StableDiffusionXLImg2ImgPipeline's
/// `encode_prompt` and `_get_add_time_ids` (pipeline_stable_diffusion_xl_img2img.py).
///
/// The refiner, which has no first text encoder, is `SDXLRefiner`.
public struct SDXLTextConditioning: Sendable {
    public private(set) var tokenizer2: CLIPTokenizer
    public private(set) var textEncoder2: CLIPTextModelWithProjection
    /// `force_zeros_for_empty_prompt`: without a negative prompt, guide against zero embeddings.
    public let forceZerosForEmptyPrompt: Bool
    /// `requires_aesthetics_score` (the refiner): time ids end with an aesthetic score, not the target size.
    public let requiresAestheticsScore: Bool
    /// The refiner's scores for the prompt and the negative prompt (diffusers' 6.0 / 2.5 defaults).
    public var aestheticScore: Double = 6
    public var negativeAestheticScore: Double = 2.5

    public init(tokenizer2: CLIPTokenizer, textEncoder2: CLIPTextModelWithProjection,
                forceZerosForEmptyPrompt: Bool = true, requiresAestheticsScore: Bool = false) {
        self.tokenizer2 = tokenizer2
        self.textEncoder2 = textEncoder2
        self.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt
        self.requiresAestheticsScore = requiresAestheticsScore
    }

    /// These settings with `tokenizer2` and `textEncoder2` in place of their own (textual
    /// inversion tokens added to both).
    func replacing(tokenizer2: CLIPTokenizer, textEncoder2: CLIPTextModelWithProjection) -> SDXLTextConditioning {
        var copy = self
        copy.tokenizer2 = tokenizer2
        copy.textEncoder2 = textEncoder2
        return copy
    }

    /// The settings in `model_index.json` (diffusers' registered config) with their defaults.
    struct PipelineSettings: KeyedConfig {
        var forceZerosForEmptyPrompt = true
        var requiresAestheticsScore = false

        static var keys: [ConfigKey<Self>] {
            [
                .key("force_zeros_for_empty_prompt", \.forceZerosForEmptyPrompt),
                .key("requires_aesthetics_score", \.requiresAestheticsScore),
            ]
        }
    }

    /// tokenizer_2's `pad_token` in SDXL 1.0 (tokenizer's is `<|endoftext|>`).
    static let secondPadToken = "!"

    /// Loads `tokenizer_2`, `text_encoder_2` and the settings of an SDXL pipeline folder;
    /// `textEncoder2`: text_encoder_2's weights from elsewhere (a single file), with the
    /// folder's config.
    init(folder: DiffusersPipelineFolder, textEncoder2 weights: (any ParameterSource)? = nil) throws {
        let index = folder.url.appendingPathComponent("model_index.json")
        let settings: PipelineSettings
        do {
            settings = try JSONDecoder().decode(PipelineSettings.self, from: Data(contentsOf: index))
        } catch {
            throw ModelsError.badConfig(path: index.path, detail: "force_zeros_for_empty_prompt / requires_aesthetics_score")
        }
        self.init(tokenizer2: try CLIPTokenizer(folder: folder.folder(of: "tokenizer_2")),
                  textEncoder2: try Self.secondEncoder(folder.folder(of: "text_encoder_2"), weights: weights),
                  forceZerosForEmptyPrompt: settings.forceZerosForEmptyPrompt,
                  requiresAestheticsScore: settings.requiresAestheticsScore)
    }

    private static func secondEncoder(_ folder: URL, weights: (any ParameterSource)?) throws -> CLIPTextModelWithProjection {
        guard let weights else { return try CLIPTextModelWithProjection(folder: folder) }
        return try CLIPTextModelWithProjection(config: .load(from: folder.appendingPathComponent("config.json")), source: weights)
    }

    /// `_get_add_time_ids` for an image worked on at `width` x `height`: original size, crop
    /// top-left, then target size (or, for the refiner, the aesthetic score), with `sizes`
    /// overriding diffusers' defaults. The negative ids share both sizes; as in diffusers they
    /// share the crop too, except with aesthetic scores, where they keep
    /// `negative_crops_coords_top_left`'s default (0, 0) and take the negative score:
    /// (negative, positive), each [1, 6] (or [1, 5]).
    func timeIDs(width: Int, height: Int, sizes: SDXLSizeConditioning = SDXLSizeConditioning())
        -> (negative: Tensor, positive: Tensor) {
        let working = [height, width]
        let original = (sizes.originalSize ?? working).map(Float.init)
        let target = (sizes.targetSize ?? working).map(Float.init)
        func ids(crop: [Int], aestheticScore: Double) -> Tensor {
            let tail = requiresAestheticsScore ? [Float(aestheticScore)] : target
            let values = original + crop.map(Float.init) + tail
            return Tensor(shape: [1, values.count], scalars: values)
        }
        let crop = sizes.cropTopLeft ?? [0, 0]
        return (ids(crop: requiresAestheticsScore ? [0, 0] : crop, aestheticScore: negativeAestheticScore),
                ids(crop: crop, aestheticScore: aestheticScore))
    }
}

/// SDXL's size conditioning, in diffusers' (height, width) and (top, left) order; nil entries
/// take diffusers' defaults: the working size for both sizes, (0, 0) for the crop.
public struct SDXLSizeConditioning: Sendable, Equatable {
    public var originalSize: [Int]?
    public var cropTopLeft: [Int]?
    public var targetSize: [Int]?

    public init(originalSize: [Int]? = nil, cropTopLeft: [Int]? = nil, targetSize: [Int]? = nil) {
        self.originalSize = originalSize
        self.cropTopLeft = cropTopLeft
        self.targetSize = targetSize
    }
}

/// One prompt's SDXL embeddings: both encoders' penultimate states side by side, and the second
/// encoder's projected pooled output.
struct SDXLPromptEmbeddings {
    /// [1, 77 * chunks, d1 + d2]
    var states: Tensor
    /// [1, projection_dim]
    var pooled: Tensor

    /// `torch.zeros_like` of both (force_zeros_for_empty_prompt).
    var zeros: SDXLPromptEmbeddings {
        SDXLPromptEmbeddings(states: Tensor(zeros: states.shape), pooled: Tensor(zeros: pooled.shape))
    }
}

extension StableDiffusion {
    /// `encode_prompt` and the added conditions as StableDiffusionXLImg2ImgPipeline batches them
    /// for the UNet: with guidance (negative, positive), else the positive alone.
    ///
    /// As diffusers: `prompt_2` / `negative_prompt_2` default to the first prompts (an empty one
    /// too), the pooled embeddings come from the second encoder, and `clip_skip` applies to the
    /// prompt only (the negative prompts always take `hidden_states[-2]`). A prompt in A1111's
    /// syntax is weighted and chunked per encoder as A1111 does (`PromptChunker`), the pooled
    /// output taken from its first chunk.
    func sdxlConditioning(_ xl: SDXLTextConditioning, options: GenerationOptions, width: Int,
                          height: Int) throws -> UNetConditioning {
        let layers = min(textEncoder.config.numHiddenLayers, xl.textEncoder2.config.numHiddenLayers)
        return try xl.unetConditioning(options, width: width, height: height, layers: layers, unet: unet) { prompt, prompt2, clipSkip in
            try sdxlEmbeddings(prompt, prompt2, clipSkip: clipSkip, xl)
        }
    }

    /// One prompt pair through both encoders, computed once per distinct pair and clip skip.
    private func sdxlEmbeddings(_ prompt: String, _ prompt2: String, clipSkip: Int,
                                _ xl: SDXLTextConditioning) throws -> SDXLPromptEmbeddings {
        let (first, second, empty) = (try WeightedPrompt(prompt), try WeightedPrompt(prompt2), try WeightedPrompt(""))
        return sdxlPromptCache.embeddings(for: prompt + "\u{0}" + prompt2, clipSkip: clipSkip) {
            let chunker = PromptChunker(tokenizer: tokenizer), chunker2 = PromptChunker(tokenizer: xl.tokenizer2)
            var chunks = chunker.chunks(first, tokenizer: tokenizer)
            var chunks2 = chunker2.chunks(second, tokenizer: xl.tokenizer2)
            // prompt and prompt_2 of different lengths: the shorter continues with empty chunks
            while chunks.count < chunks2.count { chunks += chunker.chunks(empty, tokenizer: tokenizer) }
            while chunks2.count < chunks.count { chunks2 += chunker2.chunks(empty, tokenizer: xl.tokenizer2) }
            let encoded = zip(chunks, chunks2).map { chunk, chunk2 -> (states: Tensor, pooled: Tensor) in
                let states1 = textEncoder.penultimateHiddenState([chunk.ids], clipSkip: clipSkip)
                let second = xl.secondEncoderEmbeddings(chunk2, clipSkip: clipSkip)
                return (Tensor.concatenate([PromptChunker.emphasized(states1, weights: chunk.weights), second.states], axis: 2),
                        second.pooled)
            }
            // The chunker always gives at least one chunk; the first one's pooled output is used.
            return SDXLPromptEmbeddings(states: Tensor.concatenate(encoded.map(\.states), axis: 1),
                                        pooled: encoded[0].pooled)
        }
    }
}

extension SDXLTextConditioning {
    /// `encode_prompt` and the added conditions as StableDiffusionXLImg2ImgPipeline batches them
    /// for `unet`: with guidance (negative, positive), else the positive alone, each prompt pair
    /// encoded by `embed(prompt, prompt_2, clip skip)`; `layers`: how many clip skip can skip.
    func unetConditioning(_ options: GenerationOptions, width: Int, height: Int, layers: Int, unet: UNet2DConditionModel,
                          embed: (String, String, Int) throws -> SDXLPromptEmbeddings) throws -> UNetConditioning {
        let clipSkip = options.clipSkip ?? 0
        guard (0..<layers).contains(clipSkip) else {
            throw PipelinesError.invalidClipSkip(clipSkip: clipSkip, layers: layers - 1)
        }
        try WeightedPrompt.checkPositive(options.prompt)
        var positive = try embed(options.prompt, options.prompt2.nonEmpty ?? options.prompt, clipSkip)
        let timeIDs = self.timeIDs(width: width, height: height, sizes: options.sdxlSize)
        try Self.checkAddedWidth(of: unet, pooled: positive.pooled, timeIDs: timeIDs.positive)
        guard options.usesGuidance else {
            return UNetConditioning(encoderHiddenStates: positive.states,
                                    addedConditions: AddedConditions(textEmbeds: positive.pooled,
                                                                     timeIds: timeIDs.positive))
        }
        var negative: SDXLPromptEmbeddings
        if !options.negativePromptGiven && forceZerosForEmptyPrompt {
            negative = positive.zeros
        } else {
            negative = try embed(options.negativePrompt, options.negativePrompt2.nonEmpty ?? options.negativePrompt, 0)
            if negative.states.shape[1] != positive.states.shape[1] {
                (negative, positive) = Self.equalChunkCounts(negative, positive, empty: try embed("", "", 0).states)
            }
        }
        return UNetConditioning(
            encoderHiddenStates: Tensor.concatenate([negative.states, positive.states], axis: 0),
            addedConditions: AddedConditions(textEmbeds: Tensor.concatenate([negative.pooled, positive.pooled], axis: 0),
                                             timeIds: Tensor.concatenate([timeIDs.negative, timeIDs.positive], axis: 0)))
    }

    /// One chunk through the second encoder: its `hidden_states[-(clip_skip + 2)]`, emphasized,
    /// and its projected pooled output.
    func secondEncoderEmbeddings(_ chunk: PromptChunker.Chunk, clipSkip: Int) -> (states: Tensor, pooled: Tensor) {
        let output = textEncoder2([chunk.ids])
        let states = output.hiddenStates[output.hiddenStates.count - 2 - clipSkip]
        return (PromptChunker.emphasized(states, weights: chunk.weights), output.textEmbeds)
    }

    /// diffusers refuses a UNet whose add_embedding does not take the pooled width plus the time ids.
    private static func checkAddedWidth(of unet: UNet2DConditionModel, pooled: Tensor, timeIDs: Tensor) throws {
        guard let embedding = unet.addEmbedding else { return }
        let width = pooled.shape[1] + timeIDs.shape[1] * embedding.addTimeProjection.channels
        guard width == embedding.inputWidth else {
            throw PipelinesError.incompatibleAddedConditions(expected: embedding.inputWidth, found: width)
        }
    }

    /// A1111's `pad_cond` for SDXL: the side with fewer chunks is extended by the empty prompt's
    /// states (`empty`, one chunk).
    private static func equalChunkCounts(_ negative: SDXLPromptEmbeddings, _ positive: SDXLPromptEmbeddings,
                                         empty: Tensor) -> (SDXLPromptEmbeddings, SDXLPromptEmbeddings) {
        let length = max(negative.states.shape[1], positive.states.shape[1])
        func extended(_ embeddings: SDXLPromptEmbeddings) -> SDXLPromptEmbeddings {
            let missing = (length - embeddings.states.shape[1]) / empty.shape[1]
            return SDXLPromptEmbeddings(
                states: Tensor.concatenate([embeddings.states] + [Tensor](repeating: empty, count: missing), axis: 1),
                pooled: embeddings.pooled)
        }
        return (extended(negative), extended(positive))
    }
}

private extension Optional where Wrapped == String {
    /// Python's `value or fallback` reads "" as missing.
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
