#!/usr/bin/env python3
"""Read torch checkpoints (state dicts) with pickle and numpy alone, without torch, safely.

    from torchload import load
    state = load("weights.pth")        # OrderedDict: name -> numpy array (a copy, C-contiguous)

    python3 models/torchload.py FILE   # print every tensor: name, dtype, shape

Two serializations exist, and both are read:

legacy (torch < 1.6, or `_use_new_zipfile_serialization=False`): one file of five parts
    1. pickle: the magic number 0x1950a86a20f9469cfc6c
    2. pickle: the protocol version, 1001
    3. pickle: system info, {"protocol_version", "little_endian", "type_sizes"}
    4. pickle: the object (a state dict). Each tensor is
           torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
       and each storage a persistent id
           ("storage", storage type, key, location, numel, view metadata)
    5. pickle: the list of storage keys, then per key, in that order, an int64 element count
       and the raw data (count x element size bytes, in the byte order of part 3)

zip (torch >= 1.6): a zip archive `<name>/data.pkl` (part 4, with persistent ids
    ("storage", storage type, key, location, numel)), `<name>/data/<key>` (raw storage bytes,
    little-endian unless `<name>/byteorder` says "big") and `<name>/version`.

A pickle can run any code it names, so the unpickler here resolves only an allow-list of
globals, and to our own functions, never to the named ones: the tensor rebuild function, the
storage types (each maps to a numpy dtype) and `collections.OrderedDict`. Anything else is a
`TorchLoadError` naming the global; nothing from the file is ever executed or imported.
"""

import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Storage type name (as pickled: module "torch") -> numpy dtype (little-endian).
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class TorchLoadError(Exception):
    """A file that is not a torch checkpoint we can read, or that names a forbidden global."""


class _StorageType:
    """Stands for a torch storage class in the pickle; only its dtype matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """A storage named by a persistent id. Its data arrives later in the legacy format."""

    def __init__(self, key, dtype, numel):
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.data = None  # 1-D numpy array of `numel` elements once read
        self.view = None  # (root storage, element offset) for a legacy storage view


class _Tensor:
    """A tensor whose storage may not be read yet; resolved into a numpy array at the end."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise TorchLoadError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
        for name, seq in (("size", size), ("stride", stride)):
            if not isinstance(seq, tuple) or not all(isinstance(v, int) and v >= 0 for v in seq):
                raise TorchLoadError(f"tensor {name} is not a tuple of non-negative ints: {seq!r}")
        if len(size) != len(stride):
            raise TorchLoadError(f"tensor size {size} and stride {stride} differ in length")
        if not isinstance(offset, int) or offset < 0:
            raise TorchLoadError(f"tensor storage offset is not a non-negative int: {offset!r}")
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def to_numpy(self):
        storage, offset = self.storage, self.offset
        if storage.view is not None:
            storage, base = storage.view
            offset += base
        if storage.data is None:
            raise TorchLoadError(f"storage {storage.key!r} has no data in the file")
        data = storage.data
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= data.size:
            raise TorchLoadError(
                f"tensor of size {self.size} stride {self.stride} offset {self.offset} reads "
                f"element {last} of storage {storage.key!r}, which has {data.size}"
            )
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[offset:],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view, order="C")  # a copy; ascontiguousarray would make 0-d 1-d


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    del requires_grad, backward_hooks, metadata  # irrelevant for inference weights
    return _Tensor(storage, storage_offset, tuple(size), tuple(stride))


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


# The only globals a checkpoint may name, each resolved to our own object.
_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("collections", "OrderedDict"): _ordered_dict,
}
_ALLOWED.update({("torch", name): _StorageType(name) for name in STORAGE_DTYPES})


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages, legacy):
        super().__init__(file)
        self.storages = storages  # key -> _Storage, shared across the file
        self.legacy = legacy

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise TorchLoadError(
                f"the pickle names the global {module}.{name}, which is not allowed "
                "(only tensors, storages and OrderedDict are read)"
            ) from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise TorchLoadError(f"unsupported persistent id {pid!r:.80}")
        if self.legacy:
            if len(pid) != 6:
                raise TorchLoadError(f"legacy storage id has {len(pid)} fields, not 6: {pid!r:.80}")
            _, stype, key, _location, numel, view = pid
        else:
            if len(pid) != 5:
                raise TorchLoadError(f"storage id has {len(pid)} fields, not 5: {pid!r:.80}")
            _, stype, key, _location, numel = pid
            view = None
        if not isinstance(stype, _StorageType):
            raise TorchLoadError(f"storage {key!r} has type {stype!r}, not a storage type")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise TorchLoadError(f"bad storage id {pid!r:.80}")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(key, stype.dtype, numel)
        elif storage.dtype != stype.dtype:
            raise TorchLoadError(f"storage {key!r} used as {storage.dtype} and as {stype.dtype}")
        if view is None:
            return storage
        # A view of a root storage: (view key, element offset, view size).
        if not (isinstance(view, tuple) and len(view) == 3):
            raise TorchLoadError(f"bad storage view metadata {view!r:.80}")
        view_key, offset, view_size = view
        if view_key not in self.storages:
            view_storage = _Storage(view_key, stype.dtype, view_size)
            view_storage.view = (storage, offset)
            self.storages[view_key] = view_storage
        return self.storages[view_key]


def _resolve(obj, where="state"):
    """Replaces every _Tensor in nested dicts/lists/tuples by its numpy array."""
    if isinstance(obj, _Tensor):
        return obj.to_numpy()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _resolve(v, f"{where}[{k!r}]")) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _resolve(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return tuple(_resolve(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if isinstance(obj, (_Storage, _StorageType)):
        raise TorchLoadError(f"{where} is a bare {type(obj).__name__}, not a tensor")
    return obj


def _load_pickle(f, what, storages=None, legacy=True):
    try:
        return _Unpickler(f, {} if storages is None else storages, legacy).load()
    except TorchLoadError:
        raise
    except Exception as e:  # truncated or corrupt pickle: EOFError, UnpicklingError, ...
        raise TorchLoadError(f"cannot read the {what} pickle: {type(e).__name__}: {e}") from None


def load_legacy(f):
    """Reads a legacy (non-zip) checkpoint from a binary file object."""
    magic = _load_pickle(f, "magic number")
    if magic != LEGACY_MAGIC:
        raise TorchLoadError(f"not a torch checkpoint (magic number {magic!r:.40})")
    protocol = _load_pickle(f, "protocol version")
    if protocol != LEGACY_PROTOCOL:
        raise TorchLoadError(f"unsupported legacy protocol version {protocol!r}")
    sys_info = _load_pickle(f, "system info")
    if not isinstance(sys_info, dict):
        raise TorchLoadError("the system info is not a dict")
    little = sys_info.get("little_endian", True)
    storages = {}
    obj = _load_pickle(f, "state", storages=storages, legacy=True)
    keys = _load_pickle(f, "storage keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise TorchLoadError("the storage key list is not a list of strings")
    for key in keys:
        storage = storages.get(key)
        if storage is None or storage.view is not None:
            raise TorchLoadError(f"storage key {key!r} is not a storage of the state")
        head = f.read(8)
        if len(head) != 8:
            raise TorchLoadError(f"file ends before the size of storage {key!r}")
        (count,) = struct.unpack("<q" if little else ">q", head)
        if count != storage.numel:
            raise TorchLoadError(f"storage {key!r} has {count} elements in the file, {storage.numel} in the state")
        nbytes = count * storage.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise TorchLoadError(f"file ends inside storage {key!r} ({len(raw)} of {nbytes} bytes)")
        dtype = storage.dtype if little else storage.dtype.newbyteorder(">")
        storage.data = np.frombuffer(raw, dtype=dtype).astype(storage.dtype, copy=False)
    return _resolve(obj)


def load_zip(z):
    """Reads a zip checkpoint from an open zipfile.ZipFile."""
    names = z.namelist()
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkls) != 1:
        raise TorchLoadError(f"zip has {len(pkls)} '<name>/data.pkl' members, not 1")
    prefix = pkls[0][: -len("data.pkl")]
    little = True
    if prefix + "byteorder" in names:
        order = z.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise TorchLoadError(f"unknown byteorder {order!r}")
        little = order == "little"
    storages = {}
    obj = _load_pickle(io.BytesIO(z.read(pkls[0])), "data.pkl", storages=storages, legacy=False)
    for key, storage in storages.items():
        member = f"{prefix}data/{key}"
        try:
            raw = z.read(member)
        except KeyError:
            raise TorchLoadError(f"zip has no member {member} for storage {key!r}") from None
        nbytes = storage.numel * storage.dtype.itemsize
        if len(raw) != nbytes:
            raise TorchLoadError(f"{member} has {len(raw)} bytes, storage {key!r} needs {nbytes}")
        dtype = storage.dtype if little else storage.dtype.newbyteorder(">")
        storage.data = np.frombuffer(raw, dtype=dtype).astype(storage.dtype, copy=False)
    return _resolve(obj)


def load(path):
    """Reads the checkpoint at `path` (either format); errors are TorchLoadError naming the file."""
    try:
        with open(path, "rb") as f:
            if zipfile.is_zipfile(f):
                f.seek(0)
                with zipfile.ZipFile(f) as z:
                    return load_zip(z)
            f.seek(0)
            return load_legacy(f)
    except TorchLoadError as e:
        raise TorchLoadError(f"{path}: {e}") from None
    except (OSError, zipfile.BadZipFile) as e:
        raise TorchLoadError(f"{path}: {e}") from None
    except Exception as e:  # malformed contents the checks above did not foresee: still located
        raise TorchLoadError(f"{path}: malformed checkpoint: {type(e).__name__}: {e}") from None


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {os.path.basename(sys.argv[0])} CHECKPOINT")
    try:
        state = load(sys.argv[1])
    except TorchLoadError as e:
        sys.exit(f"error: {e}")
    items = state.items() if isinstance(state, dict) else [("", state)]
    for name, value in items:
        if isinstance(value, np.ndarray):
            print(f"{name}\t{value.dtype}\t{list(value.shape)}")
        else:
            print(f"{name}\t{type(value).__name__}\t{value!r:.60}")


if __name__ == "__main__":
    main()
