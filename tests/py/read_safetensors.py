"""Reads a safetensors file the way the reference implementation validates it (header
length, JSON header, dtype, contiguous data_offsets covering the buffer) using numpy only,
and prints {name: [shape, sum]} and the metadata as JSON. The PyPI `safetensors` package is
not installable here (no PyPI access); this follows its format spec:
https://github.com/huggingface/safetensors#format"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "U8": np.uint8}

with open(sys.argv[1], "rb") as f:
    raw = f.read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8 : 8 + n].decode("utf-8"))
assert raw[8:9] == b"{", "header must start with {"
meta = header.pop("__metadata__", {})
assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
data = raw[8 + n :]
out = {}
end = 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    begin, stop = info["data_offsets"]
    assert begin == end, f"{name}: offsets not contiguous"
    dt = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
    arr = np.frombuffer(data[begin:stop], dtype=dt).reshape(info["shape"])
    out[name] = [list(arr.shape), float(arr.astype(np.float64).sum())]
    end = stop
assert end == len(data), "data must be covered exactly"
print(json.dumps({"tensors": out, "metadata": meta}))
