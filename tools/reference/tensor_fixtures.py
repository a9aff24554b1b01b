"""Reference outputs for the Tensors module's op parity tests.

Writes Tests/Fixtures/tensors/ops.safetensors: float32 tensors named "<case>.<role>"
(inputs, weights, expected outputs). Every case is computed with torch on the CPU in
float32 from a fixed seed, so re-running reproduces the file. The Swift tests
(Tests/TensorsTests) hard-code each case's hyper-parameters beside the line here that
produced it.

Run: /tmp/ref/bin/python tools/reference/tensor_fixtures.py
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "tensors" / "ops.safetensors"

torch.manual_seed(1234)
torch.set_num_threads(1)
tensors = {}


def rand(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float32) * scale


def put(case, **named):
    for role, value in named.items():
        tensors[f"{case}.{role}"] = value.detach().to(torch.float32).contiguous().clone()


# --- linear / matmul
x, w, b = rand(2, 3, 5), rand(7, 5), rand(7)
put("linear", x=x, weight=w, bias=b, out=F.linear(x, w, b))
x, w = rand(4, 6), rand(3, 6)
put("linear_nobias", x=x, weight=w, out=F.linear(x, w))
a, m = rand(3, 4), rand(4, 5)
put("matmul", a=a, b=m, out=a @ m)
a, m = rand(2, 3, 4), rand(2, 4, 5)
put("bmm", a=a, b=m, out=torch.matmul(a, m))
a, m = rand(2, 3, 4), rand(4, 5)
put("matmul_shared", a=a, b=m, out=torch.matmul(a, m))

# --- conv2d
x, w, b = rand(2, 3, 7, 9), rand(4, 3, 3, 3), rand(4)
put("conv3x3", x=x, weight=w, bias=b, out=F.conv2d(x, w, b, stride=1, padding=1))
x, w, b = rand(1, 3, 9, 8), rand(5, 3, 3, 3), rand(5)
put("conv_s2p1", x=x, weight=w, bias=b, out=F.conv2d(x, w, b, stride=2, padding=1))
x, w, b = rand(2, 6, 5, 7), rand(4, 6, 1, 1), rand(4)
put("conv1x1", x=x, weight=w, bias=b, out=F.conv2d(x, w, b))
# diffusers Downsample2D with padding=0: F.pad(x, (0, 1, 0, 1)) then a stride-2 3x3 conv.
x, w, b = rand(1, 4, 7, 6), rand(3, 4, 3, 3), rand(3)
put("conv_downsample_pad0", x=x, weight=w, bias=b, out=F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=2))
x, w = rand(1, 3, 4, 6), rand(2, 3, 1, 3)
put("conv_rect", x=x, weight=w, out=F.conv2d(x, w, padding=(0, 1)))
# A 5x5 kernel on a one-pixel-wide map: some taps never touch the image.
x, w, b = rand(1, 2, 3, 1), rand(2, 2, 5, 5), rand(2)
put("conv_k5_narrow", x=x, weight=w, bias=b, out=F.conv2d(x, w, b, padding=2))
# Large enough that a small im2col budget splits it into several bands of rows.
x, w, b = rand(1, 8, 13, 11), rand(6, 8, 3, 3), rand(6)
put("conv_banded", x=x, weight=w, bias=b, out=F.conv2d(x, w, b, stride=1, padding=1))

# --- normalisation
x, w, b = rand(2, 8, 5, 3) * 3 + 10, rand(8), rand(8)
put("group_norm", x=x, weight=w, bias=b, out=F.group_norm(x, 4, w, b, eps=1e-6),
    out_silu=F.silu(F.group_norm(x, 4, w, b, eps=1e-6)))
x = rand(2, 6, 4, 4)
put("group_norm_plain", x=x, out=F.group_norm(x, 2, eps=1e-5))
x, w, b = rand(2, 5, 37) + 3, rand(37), rand(37)
put("layer_norm", x=x, weight=w, bias=b, out=F.layer_norm(x, (37,), w, b, eps=1e-5))

# --- activations
x = torch.cat([torch.linspace(-12, 12, 301), rand(99, scale=4)]).reshape(4, 100)
put("activations", x=x, silu=F.silu(x), gelu=F.gelu(x), gelu_tanh=F.gelu(x, approximate="tanh"),
    quick_gelu=x * torch.sigmoid(1.702 * x))
x = rand(2, 3, 74, scale=3)
hidden, gate = x.chunk(2, dim=-1)
put("geglu", x=x, out=hidden * F.gelu(gate))
x = rand(5, 37, scale=30)
put("softmax", x=x, out=torch.softmax(x, dim=-1))

# --- layout and resampling
x = rand(2, 3, 4, 5)
put("upsample", x=x, out=F.interpolate(x, scale_factor=2.0, mode="nearest"))
a, c = rand(2, 3, 4), rand(2, 5, 4)
put("concat1", a=a, b=c, out=torch.cat([a, c], dim=1))
a, c = rand(2, 3, 4), rand(2, 3, 2)
put("concat2", a=a, b=c, out=torch.cat([a, c], dim=2))
x = rand(2, 3, 4, 5)
put("permute", x=x, nhwc=x.permute(0, 2, 3, 1).reshape(2, 20, 3), back=x.permute(0, 2, 3, 1).permute(0, 3, 1, 2),
    p0312=x.permute(0, 3, 1, 2), t12=x.transpose(1, 2), p3210=x.permute(3, 2, 1, 0))
x = rand(2, 7, 3)
c0, c1, c2 = x.chunk(3, dim=1)
put("chunk", x=x, c0=c0, c1=c1, c2=c2)

# --- broadcasting arithmetic
x = rand(2, 3, 4, 5)
channel, last, per_image = rand(1, 3, 1, 1), rand(5), rand(2, 3, 1, 1)
denominator = rand(5).abs() + 1
put("broadcast", x=x, channel=channel, last=last, per_image=per_image, denominator=denominator,
    add_channel=x + channel, mul_last=x * last, sub_per_image=x - per_image, div_last=x / denominator,
    scalar=(x * 0.18215 + 1) / 2 - 0.5)
col, row = rand(3, 1), rand(1, 4)
put("outer", col=col, row=row, add=col + row, mul=col * row)

# --- attention (diffusers AttnProcessor2_0 layout: [B, L, H*D] in and out)


def sdpa(q, k, v, heads):
    bsz, lq, width = q.shape
    d = width // heads
    split = lambda t: t.view(bsz, -1, heads, d).transpose(1, 2)
    o = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return o.transpose(1, 2).reshape(bsz, lq, width)


q, k, v = rand(2, 37, 32), rand(2, 37, 32), rand(2, 37, 32)
put("attention_self", q=q, k=k, v=v, out=sdpa(q, k, v, heads=4))
q, k, v = rand(2, 37, 32), rand(2, 11, 32, scale=3), rand(2, 11, 32)
put("attention_cross", q=q, k=k, v=v, out=sdpa(q, k, v, heads=2))

OUT.parent.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(OUT))
print(f"wrote {len(tensors)} tensors to {OUT}")
