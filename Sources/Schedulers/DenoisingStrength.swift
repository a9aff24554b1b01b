/// img2img's `strength` (A1111's "denoising strength") against a step count, as diffusers'
/// `get_timesteps` reads it: only the last `int(steps * strength)` inference steps run, so a
/// strength too small for its step count runs none. The recipe reader and the pipelines both
/// check strength with this rule.
public enum DenoisingStrength {
    /// `min(int(steps * strength), steps)`: how many of `steps` inference steps run (0 for a
    /// strength that is not positive).
    public static func stepsRun(_ strength: Double, of steps: Int) -> Int {
        guard strength > 0 else { return 0 }
        return Int(Double(steps) * min(strength, 1))
    }

    /// The smallest strength in thousandths that runs at least one of `steps` steps.
    public static func minimum(for steps: Int) -> Double {
        let steps = max(steps, 1)
        var thousandths = (1000 + steps - 1) / steps
        while stepsRun(Double(thousandths) / 1000, of: steps) < 1 { thousandths += 1 }
        return Double(thousandths) / 1000
    }
}
