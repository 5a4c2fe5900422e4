#!/usr/bin/python3
"""Loads a bnlab model file into the notebook's PyTorch Net and compares predictions.

    /usr/bin/python3 tests/torch_load_check.py MODEL.safetensors --x=-1,1.5 --expect=1.02,2.28

Builds the notebook's `Net` (fc0 → bn0 → tanh → … → predict, `nn.BatchNorm1d(hidden, momentum=0.5)`),
loads the file with `load_state_dict(strict=True)` (so every name, shape and the torch variant's
`num_batches_tracked` must match), runs it in eval mode on the given x and prints one line per x with
bnlab's prediction (--expect), PyTorch's, and their difference. Exit status 0 when every difference is
within the tolerance, 1 otherwise, 2 for bad usage.

Tolerance: |bnlab - torch| <= 1e-5 * max(1, |torch|). Both sides run a float32 eval forward; they differ
in the order of each Linear's sums, in BN eval arithmetic (bnlab folds gamma / sqrt(var + eps) into one
scale) and in tanh's last-ulp rounding. The last Linear sums ten terms of a few units each into outputs
near zero, so these ulps show up as ~3e-6 absolute (measured on the default run: 3.2e-6 at most). A real
mistake is far larger: evaluating with eps 1e-6 instead of 1e-5 already moves the predictions by 2.7e-4.

The file is read with the `safetensors` package when it is installed, otherwise with the standard
library (an 8-byte little-endian header length, a JSON header, then raw little-endian tensors).
"""
import argparse
import array
import json
import struct
import sys

import torch
import torch.nn as nn

ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


class Net(nn.Module):
    """The notebook's network, with its attribute (and so state_dict) names."""

    def __init__(self, hidden, layers, bn, eps, momentum, activation, bn_after=False):
        super().__init__()
        self.do_bn = bn
        self.bn_after = bn_after
        self.activation = ACTIVATIONS[activation]
        self.fcs, self.bns = [], []
        for i in range(layers):
            fc = nn.Linear(1 if i == 0 else hidden, hidden)
            setattr(self, "fc%i" % i, fc)
            self.fcs.append(fc)
            if bn:
                b = nn.BatchNorm1d(hidden, eps=eps, momentum=momentum)
                setattr(self, "bn%i" % i, b)
                self.bns.append(b)
        self.predict = nn.Linear(hidden, 1)

    def forward(self, x):
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if self.do_bn and not self.bn_after:
                x = self.bns[i](x)
            x = self.activation(x)
            if self.do_bn and self.bn_after:
                x = self.bns[i](x)
        return self.predict(x)


def read_safetensors(path):
    """Returns (tensors, metadata, reader name)."""
    try:
        from safetensors.torch import load_file, safe_open  # noqa: F401

        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
        return load_file(path), metadata, "safetensors package"
    except ImportError:
        pass
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        code = {"F32": "f", "I64": "q"}[info["dtype"]]
        values = array.array(code)
        values.frombytes(data[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        dtype = torch.float32 if code == "f" else torch.int64
        tensors[name] = torch.tensor(values.tolist(), dtype=dtype).reshape(info["shape"])
    return tensors, metadata, "standard library"


def floats(text):
    return [float(v) for v in text.split(",")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--x", type=floats, required=True)
    parser.add_argument("--expect", type=floats, required=True, help="bnlab's predictions for --x")
    args = parser.parse_args()
    if len(args.x) != len(args.expect):
        parser.error("--x and --expect need the same number of values")

    tensors, meta, reader = read_safetensors(args.model)
    variant = meta["variant"]
    net = Net(
        hidden=int(meta["hidden"]),
        layers=int(meta["layers"]),
        bn=variant != "none",
        eps=float(meta["eps"]),
        momentum=float(meta["momentum"]),
        activation=meta["activation"],
        bn_after=meta.get("bn_position", "before") == "after",
    )
    net.load_state_dict(tensors, strict=True)
    net.eval()
    with torch.no_grad():
        pred = net(torch.tensor(args.x, dtype=torch.float32).reshape(-1, 1)).reshape(-1).tolist()

    print(f"torch {torch.__version__}, file read with the {reader}; variant {variant}, "
          f"{meta['layers']}x{meta['hidden']} {meta['activation']}, eps {meta['eps']}, "
          f"{len(tensors)} tensors loaded with strict=True")
    if "bn0.num_batches_tracked" in tensors:
        print(f"bn0.num_batches_tracked = {int(tensors['bn0.num_batches_tracked'])}")
    print("x\tbnlab\ttorch\t|diff|")
    worst = 0.0
    for x, mine, theirs in zip(args.x, args.expect, pred):
        diff = abs(mine - theirs)
        worst = max(worst, diff / max(1.0, abs(theirs)))
        print(f"{x:g}\t{mine:.7g}\t{theirs:.7g}\t{diff:.2e}")
    ok = worst <= 1e-5
    print(f"max |diff| / max(1, |torch|) = {worst:.2e} ({'within' if ok else 'OUTSIDE'} the tolerance 1e-5)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
