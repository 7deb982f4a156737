"""Tests of the models set-up installs into .hypna/models/ (scripts/install-models.sh).

    .hypna/venv/bin/python -m unittest discover -s models -p 'test_*.py'

- EfficientNet-Lite0: top-1 on four real photographs (scikit-image's, extracted by set-up into
  .hypna/testdata/photos/), and the converted graph against the reference computed once with
  torch and the model code that goes with the weights (models/testdata/efficientnet_lite0_reference.npz,
  made by models/make_reference_fixtures.py): logits and every named layer.
- OmniArt eyes: the converted generator against the package's own generator.py run by torch
  (models/testdata/omniart_eyes_reference.npz), the batch dimension, the 0..1 range.
- BeatNet: the converted network against PyTorch running BeatNet's own module on features
  BeatNet's own pipeline computed (models/testdata/beatnet/, made by models/beatnet_fixtures.py),
  as one sequence and one frame per call with the LSTM state carried.

A missing model or photo fails with what to run; these tests never skip.
"""

import os
import unittest

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = os.path.join(ROOT, ".hypna", "models")
PHOTOS = os.path.join(ROOT, ".hypna", "testdata", "photos")
TESTDATA = os.path.join(HERE, "testdata")
LAYERS = ["stem"] + [f"block{i}" for i in range(16)] + ["head"]

# photo -> (expected top-1 with the preprocessing below, classes any sane preprocessing gives)
PHOTO_TOP1 = {
    "chelsea.png": (285, {281, 282, 285}),  # Egyptian cat (tabby, tiger cat)
    "coffee.png": (967, {967}),  # espresso
    "camera.png": (872, {872}),  # tripod (the cameraman's)
    "motorcycle_left.png": (665, {665, 670}),  # moped (motor scooter)
}


def required(path):
    if not os.path.exists(path):
        raise AssertionError(f"{path} is missing: run scripts/setup.sh test (it installs the models and photos)")
    return path


def session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def photo_input(name):
    """The photo as the classifier's input: RGB, resized to 224x224 (Pillow bilinear), 0..1 NCHW."""
    img = Image.open(required(os.path.join(PHOTOS, name))).convert("RGB").resize((224, 224), Image.BILINEAR)
    return (np.asarray(img, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None].copy()


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


class EfficientNetLite0(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path = required(os.path.join(MODELS, "efficientnet-lite0.onnx"))
        cls.model = onnx.load(path)
        with_layers = onnx.load(path)
        for layer in LAYERS:
            with_layers.graph.output.append(onnx.ValueInfoProto(name=layer))
        cls.sess = session(with_layers)
        with open(os.path.join(HERE, "imagenet_classes.txt")) as f:
            cls.classes = f.read().splitlines()

    def run_model(self, image):
        outs = self.sess.run(["logits"] + LAYERS, {"image": image})
        return outs[0], dict(zip(LAYERS, outs[1:]))

    def test_interface(self):
        g = self.model.graph
        self.assertEqual([i.name for i in g.input], ["image"])
        dims = [d.dim_value or d.dim_param for d in g.input[0].type.tensor_type.shape.dim]
        self.assertEqual(dims, [1, 3, "height", "width"])
        self.assertEqual([o.name for o in g.output], ["logits"])
        produced = {o for n in g.node for o in n.output}
        for layer in LAYERS:
            self.assertIn(layer, produced)

    def test_classes_file(self):
        self.assertEqual(len(self.classes), 1000)
        self.assertEqual(self.classes[285], "Egyptian cat")
        self.assertEqual(self.classes[967], "espresso")
        self.assertEqual(self.classes[0], "tench")

    def test_photos_top1(self):
        for name, (top1, plausible) in PHOTO_TOP1.items():
            logits, _ = self.run_model(photo_input(name))
            p = softmax(logits[0].astype(np.float64))
            top5 = np.argsort(-p)[:5]
            report = ", ".join(f"{i} {self.classes[i]} {p[i]:.3f}" for i in top5)
            self.assertIn(int(top5[0]), plausible, f"{name}: {report}")
            self.assertEqual(int(top5[0]), top1, f"{name}: {report}")

    def test_against_torch_reference(self):
        ref = np.load(os.path.join(TESTDATA, "efficientnet_lite0_reference.npz"))
        # float32 through ~50 layers in another summation order: differences of 1e-5 on logits
        # of magnitude ~10 (measured: at most 1.6e-5 on logits, 3.5e-5 on whole layers); a
        # wrong padding, BN eps or scaling gives 1e-2 and more.
        for name in ("photo", "odd"):
            image = (ref[name].astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
            logits, layers = self.run_model(image)
            np.testing.assert_allclose(logits[0], ref[f"{name}_logits"], rtol=0, atol=1e-4, err_msg=f"{name} logits")
            for layer, value in layers.items():
                np.testing.assert_allclose(value[0].mean(axis=(1, 2)), ref[f"{name}_mean_{layer}"], rtol=0,
                                           atol=1e-4, err_msg=f"{name} {layer} channel means")
                if f"{name}_full_{layer}" in ref.files:
                    np.testing.assert_allclose(value[0], ref[f"{name}_full_{layer}"], rtol=0, atol=2e-4,
                                               err_msg=f"{name} {layer}")
        self.assertEqual(int(np.argmax(ref["photo_logits"])), 285)

    def test_any_size(self):
        for h, w in ((1, 1), (31, 17), (97, 160)):
            logits, layers = self.run_model(np.full((1, 3, h, w), 0.5, np.float32))
            self.assertEqual(logits.shape, (1, 1000))
            self.assertTrue(np.isfinite(logits).all())
            # TensorFlow SAME: every stride-2 stage takes ceil(size / 2)
            self.assertEqual(layers["stem"].shape[2:], (-(-h // 2), -(-w // 2)))
            self.assertEqual(layers["head"].shape[2:], (-(-h // 32), -(-w // 32)))


class OmniArtEyes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path = required(os.path.join(MODELS, "omniart-eyes.onnx"))
        cls.model = onnx.load(path, load_external_data=False)
        cls.sess = session(path)
        cls.ref = np.load(os.path.join(TESTDATA, "omniart_eyes_reference.npz"))

    def test_interface(self):
        g = self.model.graph

        def dims(v):
            return [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]

        self.assertEqual([(i.name, dims(i)) for i in g.input], [("noise", ["batch", 100]), ("label", ["batch", 8])])
        self.assertEqual([(o.name, dims(o)) for o in g.output], [("image", ["batch", 3, 128, 128])])

    def test_against_package_generator(self):
        image = self.sess.run(None, {"noise": self.ref["noise"], "label": self.ref["label"]})[0]
        expected = (self.ref["tanh"].astype(np.float64) + 1.0) / 2.0
        # measured 3.4e-7: float32 rounding; a missing or wrong BN fold is off by 1e-2 and more
        np.testing.assert_allclose(image, expected, rtol=0, atol=1e-5)

    def test_batch(self):
        rng = np.random.default_rng(3)
        noise = rng.standard_normal((5, 100)).astype(np.float32)
        label = np.eye(8, dtype=np.float32)[[0, 3, 4, 7, 1]]
        batch = self.sess.run(None, {"noise": noise, "label": label})[0]
        self.assertEqual(batch.shape, (5, 3, 128, 128))
        self.assertTrue(((batch >= 0) & (batch <= 1)).all())
        for i in (0, 4):
            one = self.sess.run(None, {"noise": noise[i:i + 1], "label": label[i:i + 1]})[0]
            np.testing.assert_allclose(one[0], batch[i], rtol=0, atol=1e-6)
        # different noise, different eyes; different labels change the picture too
        self.assertGreater(np.abs(batch[0] - batch[1]).mean(), 0.02)
        recoloured = self.sess.run(None, {"noise": noise[:1], "label": label[3:4]})[0]
        self.assertGreater(np.abs(recoloured[0] - batch[0]).mean(), 0.005)


class BeatNetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sess = session(required(os.path.join(MODELS, "beatnet-1.onnx")))
        d = os.path.join(TESTDATA, "beatnet")
        cls.features = np.fromfile(os.path.join(d, "frontend_features.f32"), "<f4").reshape(-1, 272)
        cls.want = np.fromfile(os.path.join(d, "frontend_activations.f32"), "<f4").reshape(-1, 3)

    def test_against_pytorch_as_a_sequence_and_frame_by_frame(self):
        zeros = np.zeros((2, 1, 150), np.float32)
        acts, _, _ = self.sess.run(None, {"features": self.features, "h_in": zeros, "c_in": zeros})
        # measured about 1e-6: float32 rounding; a wrong gate order is off by 0.1 and more
        np.testing.assert_allclose(acts, self.want, rtol=0, atol=1e-4)
        h, c = zeros, zeros
        for t in range(len(self.features)):
            a, h, c = self.sess.run(None, {"features": self.features[t:t + 1], "h_in": h, "c_in": c})
            np.testing.assert_allclose(a[0], self.want[t], rtol=0, atol=1e-4)
        # the fixture is not trivial: the network hears beats in it
        self.assertGreater(self.want[:, 0].max() + self.want[:, 1].max(), 0.3)


if __name__ == "__main__":
    unittest.main()
