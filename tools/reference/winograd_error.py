"""Float32 rounding of a 3x3 convolution summed over many channels: direct, Winograd
F(2x2, 3x3) (what conv2d uses) and F(4x4, 3x3), each against float64, as a fraction of the
output's largest magnitude. Backs the README's accuracy claim for the Winograd path.

    python tools/reference/winograd_error.py [--channels 320] [--trials 20]
"""
import argparse

import numpy as np

F32 = np.float32

# Lavin and Gray's matrices: F(m x m, 3x3) is A^T [(G g G^T) * (B^T d B)] A.
F2 = dict(
    BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], F32),
    G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], F32),
    AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], F32),
)
F4 = dict(
    BT=np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], F32),
    G=np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], F32),
    AT=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], F32),
)


def correlate(d, g):
    """The 4x4 valid correlation of d [C, 6, 6] with g [C, 3, 3], summed over channels."""
    windows = np.lib.stride_tricks.sliding_window_view(d, (3, 3), axis=(1, 2))
    return np.einsum("cijkl,ckl->ij", windows, g)


def winograd(d, g, matrices):
    """The same 4x4 output in float32 through F(m x m, 3x3) tiles."""
    BT, G, AT = matrices["BT"], matrices["G"], matrices["AT"]
    m, n = AT.shape
    U = np.einsum("ak,ckl,bl->cab", G, g, G).astype(F32)
    out = np.zeros((4, 4), F32)
    for y in range(0, 4, m):
        for x in range(0, 4, m):
            V = np.einsum("ak,ckl,bl->cab", BT, d[:, y:y + n, x:x + n], BT).astype(F32)
            out[y:y + m, x:x + m] = AT @ (U * V).sum(0, dtype=F32) @ AT.T
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=320)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    errors = {"direct": [], "F(2x2, 3x3)": [], "F(4x4, 3x3)": []}
    for _ in range(args.trials):
        d = rng.standard_normal((args.channels, 6, 6)).astype(F32)
        g = (rng.standard_normal((args.channels, 3, 3)) * 0.05).astype(F32)
        exact = correlate(d.astype(np.float64), g.astype(np.float64))
        scale = np.abs(exact).max()
        results = {"direct": correlate(d, g), "F(2x2, 3x3)": winograd(d, g, F2), "F(4x4, 3x3)": winograd(d, g, F4)}
        for name, result in results.items():
            errors[name].append(np.abs(result - exact).max() / scale)
    for name, values in errors.items():
        print(f"{name}: mean {np.mean(values):.2e}, largest {np.max(values):.2e} of the output's range")


if __name__ == "__main__":
    main()
