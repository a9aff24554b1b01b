/// The schedulers a recipe's `scheduler:` key can name, one case per sampler: its recipe name
/// (the raw value), the name AUTOMATIC1111 shows for the same sampler (accepted too, and
/// written into PNG metadata), and the diffusers class it builds. The recipe reader, the
/// factory, the metadata writer and the CLI help all read this list, so a new scheduler is a
/// case here and its class in `SchedulerFactory.classes`.
///
/// `DDIMInverseScheduler` is not a case: only the `edit` pipeline's inversion runs it.
public enum SchedulerName: String, CaseIterable, Codable, Sendable {
    case ddim
    case ddpm
    /// PNDM, which Stable Diffusion configs run with `skip_prk_steps`: A1111's PLMS.
    case pndm
    case euler
    case eulerAncestral = "euler_a"
    case lms
    case dpmpp2M = "dpmpp_2m"
    case dpmpp2MKarras = "dpmpp_2m_karras"
    case dpmpp2MSDE = "dpmpp_2m_sde"
    /// Latent consistency: for LCM-distilled models (LCM-LoRA fused, LCM merges), 2-8 steps.
    case lcm
    /// Trajectory consistency (TCD-LoRA fused models), 2-8 steps; `eta` is its gamma.
    case tcd

    /// The sampler's name in AUTOMATIC1111's UI and `parameters` text.
    public var displayName: String {
        switch self {
        case .ddim: "DDIM"
        case .ddpm: "DDPM"
        case .pndm: "PLMS"
        case .euler: "Euler"
        case .eulerAncestral: "Euler a"
        case .lms: "LMS"
        case .dpmpp2M: "DPM++ 2M"
        case .dpmpp2MKarras: "DPM++ 2M Karras"
        case .dpmpp2MSDE: "DPM++ 2M SDE"
        case .lcm: "LCM"
        case .tcd: "TCD"
        }
    }

    /// The diffusers class (`_class_name`) the name builds.
    public var className: String {
        switch self {
        case .ddim: "DDIMScheduler"
        case .ddpm: "DDPMScheduler"
        case .pndm: "PNDMScheduler"
        case .euler: "EulerDiscreteScheduler"
        case .eulerAncestral: "EulerAncestralDiscreteScheduler"
        case .lms: "LMSDiscreteScheduler"
        case .dpmpp2M, .dpmpp2MKarras, .dpmpp2MSDE: "DPMSolverMultistepScheduler"
        case .lcm: "LCMScheduler"
        case .tcd: "TCDScheduler"
        }
    }

    /// A recipe's spelling: the recipe name, or A1111's name in any letter case ("Euler a",
    /// "dpm++ 2m karras").
    public init?(parsing text: String) {
        let lowered = text.lowercased()
        guard let name = Self.allCases.first(where: { $0.rawValue == lowered || $0.displayName.lowercased() == lowered })
        else { return nil }
        self = name
    }

    /// The plain sampler of a diffusers class, for a model's own scheduler config
    /// (`DPMSolverMultistepScheduler` reads as DPM++ 2M); nil for a class no name builds.
    public init?(className: String) {
        guard let name = Self.allCases.first(where: { $0.className == className }) else { return nil }
        self = name
    }

    /// The model's config with the keys this name fixes: `dpmpp_2m*` force `algorithm_type`
    /// and `solver_order: 2` as the names promise (`_karras` adds `use_karras_sigmas: true`).
    func configured(_ config: SchedulerConfig) -> SchedulerConfig {
        var config = config
        switch self {
        case .dpmpp2M, .dpmpp2MKarras:
            config.algorithmType = "dpmsolver++"
            config.solverOrder = 2
            if self == .dpmpp2MKarras { config.useKarrasSigmas = true }
        case .dpmpp2MSDE:
            config.algorithmType = "sde-dpmsolver++"
            config.solverOrder = 2
        default:
            break
        }
        return config
    }
}
