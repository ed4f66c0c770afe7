"""The rnn and transformer families: every input kind, serialisation, padding masks, training."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from conftest import assert_accuracy_from_its_counts, train_in_process  # noqa: E402

from bmrun.models.base import BasicModel  # noqa: E402


def RNN(**args):  # noqa: N802 - reads like the family's class
    return BasicModel("rnn", **args)


def Transformer(**args):  # noqa: N802
    return BasicModel("transformer", **args)

BATCH, NUM_OUTPUTS, VOCAB = 4, 3, 30

# Small settings so each build takes a fraction of a second; the second variant of each family
# turns on everything optional (gru, stacking, both directions, class token, sinusoids, dropout).
VARIANTS = {
    "lstm": ("rnn", dict(cell="lstm", hidden_dim=8, embedding_dim=6)),
    "gru_bi_2": ("rnn", dict(cell="gru", num_layers=2, hidden_dim=8, bidirectional=True, dropout_rate=0.1,
                           embedding_dim=6)),
    "lstm_mean": ("rnn", dict(cell="lstm", hidden_dim=8, embedding_dim=6, pooling="mean")),
    "gru_max": ("rnn", dict(cell="gru", hidden_dim=8, embedding_dim=6, pooling="max")),
    "tf_mean_learned": ("transformer", dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, patch_size=4,
                                          pooling="mean", position="learned", stem="conv")),
    "tf_cls_sin": ("transformer", dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, patch_size=2,
                                     pooling="cls", position="sinusoidal", dropout_rate=0.1)),
}
KINDS = ("image", "tokens", "sequence")


def common_args(kind: str, length: int = 10) -> dict:
    """The BasicModel arguments of a small example of ``kind``."""
    if kind == "image":
        return dict(input_shape=(8, 8, 1), input_kind="image", input_mean=np.float32(4.0),
                    input_variance=np.float32(9.0))
    if kind == "tokens":
        return dict(input_shape=(length,), input_kind="tokens", vocab_size=VOCAB)
    return dict(input_shape=(length, 3), input_kind="sequence", input_mean=np.zeros(3, np.float32),
                input_variance=np.ones(3, np.float32))


def examples(kind: str, length: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "image":
        return rng.uniform(0, 16, (BATCH, 8, 8, 1)).astype(np.float32)
    if kind == "tokens":
        return padded_tokens([rng.integers(1, VOCAB, n) for n in (3, 5, 1, length)], length)
    return rng.normal(size=(BATCH, length, 3)).astype(np.float32)


def padded_tokens(sequences, length: int) -> np.ndarray:
    """Right-padded int32 ids (0 = padding), the layout bmrun's token loaders produce."""
    out = np.zeros((len(sequences), length), np.int32)
    for row, ids in enumerate(sequences):
        out[row, :len(ids)] = ids
    return out


def build(variant: str, kind: str, length: int = 10, seed: int = 0):
    family, args = VARIANTS[variant]
    keras.utils.set_random_seed(seed)
    return BasicModel(family, **args, **common_args(kind, length), num_outputs=NUM_OUTPUTS)


def predict(model, x) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


CASES = [(v, k) for v in VARIANTS for k in KINDS]


@pytest.mark.parametrize("variant,kind", CASES)
def test_builds_and_outputs_one_row_of_logits_per_example(variant, kind):
    model = build(variant, kind)
    out = predict(model, examples(kind))
    assert out.shape == (BATCH, NUM_OUTPUTS)
    assert np.isfinite(out).all()
    # Different examples must give different logits: the body is not ignoring its input.
    assert np.abs(out[0] - out[1]).max() > 1e-6


@pytest.mark.parametrize("variant,kind", CASES)
def test_get_config_round_trips_the_architecture(variant, kind):
    model = build(variant, kind)
    config = model.get_config()
    for key, value in VARIANTS[variant][1].items():
        assert config[key] == value
    assert config["family"] == VARIANTS[variant][0]
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()
    assert [(w.path, tuple(w.shape)) for w in clone.weights] == [(w.path, tuple(w.shape)) for w in model.weights]


@pytest.mark.parametrize("variant,kind", CASES)
def test_keras_file_loads_in_safe_mode_with_identical_predictions(variant, kind, tmp_path):
    model = build(variant, kind)
    x = examples(kind)
    path = tmp_path / "model.keras"
    model.save(str(path))
    loaded = keras.saving.load_model(str(path), safe_mode=True)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_trailing_padding_does_not_change_the_output(variant):
    """The same token sequences padded to 6 and to 14 give the same logits."""
    short, long = build(variant, "tokens", length=6), build(variant, "tokens", length=14, seed=1)
    # Same weights; a learned position table is longer in the long model, and only its first
    # rows are used by the real tokens, so the short model gets those rows.
    short.set_weights([w[:s.shape[0]] if w.shape != s.shape else w
                       for w, s in zip(long.get_weights(), short.get_weights())])
    sequences = [[4, 9, 2], [7, 1, 3, 3, 8, 5], [11]]
    out_short = predict(short, padded_tokens(sequences, 6))
    out_long = predict(long, padded_tokens(sequences, 14))
    np.testing.assert_allclose(out_long, out_short, rtol=0, atol=1e-5)
    # ... while a real token does change them (the check above is not vacuous).
    changed = predict(long, padded_tokens([[4, 9, 5]] + sequences[1:], 14))
    assert np.abs(changed[0] - out_long[0]).max() > 1e-5


def test_max_over_a_bidirectional_layer_ignores_padding():
    """A Bidirectional layer outputs zeros at padded steps: the max must not pick them up."""
    keras.utils.set_random_seed(0)
    args = dict(cell="gru", hidden_dim=8, bidirectional=True, embedding_dim=6, pooling="max", num_outputs=NUM_OUTPUTS)
    short = BasicModel("rnn", **args, **common_args("tokens", 6))
    long = BasicModel("rnn", **args, **common_args("tokens", 14))
    long.set_weights(short.get_weights())
    sequences = [[4, 9, 2], [7, 1, 3, 3, 8, 5], [11]]
    np.testing.assert_allclose(predict(long, padded_tokens(sequences, 14)), predict(short, padded_tokens(sequences, 6)),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", ["tf_mean_learned", "tf_cls_sin"])
def test_transformer_pools_an_all_padding_example_to_finite_logits(variant):
    # (Not asked of the rnn: Keras's cuDNN kernels refuse fully masked rows on a GPU.)
    out = predict(build(variant, "tokens"), np.zeros((2, 10), np.int32))
    assert np.isfinite(out).all()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_layers_keep_cudnn_compatible_settings(cell):
    model = RNN(cell=cell, num_layers=3, hidden_dim=8, bidirectional=True, dropout_rate=0.2,
                **common_args("tokens"), num_outputs=2)
    cells = [layer.forward_layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert len(cells) == 3
    for layer in cells:
        assert layer.activation.__name__ == "tanh" and layer.recurrent_activation.__name__ == "sigmoid"
        assert layer.recurrent_dropout == 0 and layer.use_bias and not layer.unroll
        if cell == "gru":
            assert layer.reset_after
    assert [layer.return_sequences for layer in cells] == [True, True, False]
    # Regularisation is ordinary dropout after each recurrent layer, not recurrent dropout.
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == \
        ["dropout_0", "dropout_1", "dropout_2"]


def test_rnn_reads_an_image_one_row_per_step():
    model = RNN(hidden_dim=8, input_shape=(6, 5, 2), input_kind="image", num_outputs=2)
    assert tuple(model.get_layer("rows").output.shape) == (None, 6, 10)


@pytest.mark.parametrize("pooling,length", [("mean", 49), ("cls", 50)])
def test_transformer_cuts_images_into_patches(pooling, length):
    model = Transformer(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=8, patch_size=4, pooling=pooling,
                        input_shape=(28, 28, 1), input_kind="image", num_outputs=10)
    assert tuple(model.get_layer("patches").output.shape) == (None, 49, 8)
    assert tuple(model.get_layer("position_embedding").output.shape) == (None, length, 8)


def test_transformer_conv_stem_gives_the_patch_grid_from_strided_convolutions():
    model = Transformer(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=8, patch_size=4, stem="conv",
                        input_shape=(28, 28, 1), input_kind="image", num_outputs=10)
    assert tuple(model.get_layer("patches").output.shape) == (None, 49, 16)
    assert [tuple(model.get_layer(f"stem_conv_{i}").output.shape) for i in (0, 1)] == [(None, 14, 14, 8),
                                                                                      (None, 7, 7, 16)]
    with pytest.raises(ValueError):
        model.get_layer("patch_embedding")


def test_transformer_conv_stem_needs_a_power_of_two_patch():
    from bmrun.errors import ConfigError
    from conftest import validated

    with pytest.raises(ConfigError, match="power of two"):
        validated(["model=transformer", "model.stem=conv", "model.patch_size=6", "data=fashion_mnist"])


def test_transformer_rejects_a_patch_size_that_does_not_divide_the_image():
    with pytest.raises(ValueError, match="patch_size"):
        Transformer(patch_size=3, input_shape=(8, 8, 1), input_kind="image", num_outputs=10)


@pytest.mark.parametrize("kind", ["tokens", "image"])
def test_transformer_compiles_under_xla(kind):
    model = build("tf_cls_sin", kind)
    x = tf.constant(examples(kind))
    compiled = tf.function(lambda t: model(t, training=False), jit_compile=True)
    np.testing.assert_allclose(compiled(x).numpy(), predict(model, x), rtol=1e-4, atol=1e-4)


TRAIN_RUNS = {
    "lstm": ["model=rnn", "model.hidden_dim=32"],
    "gru_bidirectional": ["model=rnn", "model.cell=gru", "model.hidden_dim=16", "model.bidirectional=true",
                          "model.num_layers=2", "model.dropout_rate=0.1"],
    "transformer_cls_learned": ["model=transformer", "model.patch_size=4", "model.pooling=cls",
                                "model.position=learned", "model.hidden_dim=32", "model.num_layers=1"],
    "transformer_mean_sinusoidal": ["model=transformer", "model.patch_size=2", "model.pooling=mean",
                                    "model.position=sinusoidal", "model.hidden_dim=32", "model.num_layers=1"],
}


@pytest.mark.parametrize("run", list(TRAIN_RUNS))
def test_short_training_run_on_digits_completes_and_exports(run, tmp_path):
    from bmrun.models.loading import load_run_model

    metrics = train_in_process(tmp_path, TRAIN_RUNS[run] + ["data.limit=200", "trainer.max_epochs=1",
                                                            "logger.tensorboard=false"])
    assert metrics["status"] == "completed" and metrics["epochs"] == 1
    assert metrics["model"] == TRAIN_RUNS[run][0].split("=")[1]
    assert np.isfinite(metrics["test"]["loss"])
    assert_accuracy_from_its_counts(metrics["test"])
    loaded = load_run_model(tmp_path, "test")
    assert sum(int(np.prod(w.shape)) for w in loaded.trainable_weights) == metrics["num_params"]
    assert predict(loaded, np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 10)


@pytest.mark.parametrize("family", ["linear", "mlp", "cnn", "rnn", "transformer"])
def test_every_family_is_one_keras_class_that_reloads_in_safe_mode(family, tmp_path):
    """BasicModel looks the family up in the registry, so safe mode needs no per-family class."""
    model = BasicModel(family, **common_args("image"), num_outputs=NUM_OUTPUTS)
    path = tmp_path / "model.keras"
    model.save(str(path))
    loaded = keras.saving.load_model(str(path), safe_mode=True)
    assert type(loaded) is BasicModel and loaded.family == family
    x = examples("image")
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)
    assert loaded.get_layer("head") not in loaded.backbone.layers


def test_defaults_come_from_the_family_dataclass():
    """The dataclass is the one place defaults are written: mlp's dropout is 0.1 (what users ran)."""
    from bmrun.models.mlp import MlpConfig

    model = BasicModel("mlp", **common_args("image"), num_outputs=2)
    assert model.get_config()["dropout_rate"] == MlpConfig().dropout_rate == 0.1
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == \
        ["dropout_0", "dropout_1"]


def test_family_modules_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys; import bmrun.models.cnn, bmrun.models.rnn, bmrun.models.transformer, bmrun.models.mlp, "
            "bmrun.models.linear, bmrun.models.custom, bmrun.registry, bmrun.data.digits, bmrun.data.imdb; "
            "from bmrun import registry; registry.models(); registry.datasets(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
