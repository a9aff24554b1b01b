import OverpaintTestSupport
import Weights

enum ModelFixtures {
    /// A safetensors fixture file as a parameter source.
    static func store(_ area: String, _ name: String) throws -> WeightStore {
        try WeightStore(url: Fixtures.url(area, name))
    }
}
