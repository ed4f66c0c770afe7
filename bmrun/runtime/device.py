"""Devices, distribution strategy, precision and seeds for one training job.

Device visibility, GPU memory growth, logical CPU devices and thread pools can only be set
before TensorFlow's runtime starts, i.e. once per process: the first job of a sweep fixes them
and a later job asking for different ones gets a clear error. Precision policy, seeds and the
Keras session are reset for every job, so jobs of one sweep do not leak state into each other.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any, Optional

from bmrun.errors import ConfigError
from bmrun.runtime.cluster import is_chief
from bmrun.runtime.tfimport import import_tensorflow, quiet_native_logs

_PROCESS_SETTINGS: Optional[tuple] = None  # what the first job fixed for this process
_STRATEGIES: dict = {}
_GC_FROZEN = False  # one multi-device strategy per process: they own collective state


@dataclass
class DeviceSetup:
    """What a job trains on.

    Attributes:
        strategy: The ``tf.distribute`` strategy (the default one for a single device).
        platform: ``cpu`` or ``gpu``.
        num_replicas: Replicas in sync (1 for a single device).
        is_chief: Whether this process writes artifacts (always, except non-chief workers).
        description: One line for the terminal, e.g. ``1x GPU, mixed_float16``.
        precision: The Keras dtype policy in use (``device.precision=auto`` resolved).
    """

    strategy: Any
    platform: str
    num_replicas: int
    is_chief: bool
    description: str
    precision: str = "float32"


def _process_settings(device_cfg) -> tuple:
    return (device_cfg.name == "cpu", device_cfg.memory_growth, device_cfg.logical_cpus,
            device_cfg.intra_op_threads, device_cfg.inter_op_threads)


def _configure_process(tf, device_cfg) -> None:
    global _PROCESS_SETTINGS
    settings = _process_settings(device_cfg)
    if _PROCESS_SETTINGS is not None:
        if settings != _PROCESS_SETTINGS:
            raise ConfigError("device", "device visibility, memory growth, logical_cpus and thread counts are fixed "
                              "by the first job of a process; sweep them with hydra/launcher=joblib (one process per job)")
        return
    gpus = tf.config.list_physical_devices("GPU")
    if device_cfg.name == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    elif device_cfg.memory_growth:
        for gpu in gpus:  # without this TensorFlow takes all GPU memory for the life of the process
            tf.config.experimental.set_memory_growth(gpu, True)
    if device_cfg.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * device_cfg.logical_cpus)
    if device_cfg.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(device_cfg.intra_op_threads)
    if device_cfg.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(device_cfg.inter_op_threads)
    elif device_cfg.name == "cpu" or not gpus:
        try:
            tf.config.threading.set_inter_op_parallelism_threads(cpu_inter_op_threads())
        except RuntimeError:  # the runtime already runs (TensorFlow used before train() in this process)
            pass
    _PROCESS_SETTINGS = settings


def cpu_inter_op_threads() -> int:
    """``device.inter_op_threads=0`` on a CPU: 2 ops at once (1 on one core), not TensorFlow's one
    per core. oneDNN already spreads each op over every core, and every op running beside another
    holds its own buffers: a U-Net at 256x256 peaked 500 MiB higher with 16 ops at once than with
    2 (BENCHMARKS.md). TensorFlow's own oneDNN builds with OpenMP pick 2 the same way."""
    return min(2, os.cpu_count() or 1)


def _strategy(tf, device_cfg, gpus: list):
    name = device_cfg.name
    if name == "gpu" and not gpus:
        raise ConfigError("device", "device=gpu but TensorFlow sees no GPU (is this a CUDA build with a driver?); "
                          "use device=auto or device=cpu")
    if name == "multi_gpu":
        if "multi_gpu" not in _STRATEGIES:
            devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                      [d.name for d in tf.config.list_logical_devices("CPU")]
            _STRATEGIES["multi_gpu"] = tf.distribute.MirroredStrategy(devices=devices)
        return _STRATEGIES["multi_gpu"]
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("device", "device=multi_worker needs TF_CONFIG (cluster and task) in the environment")
        if "multi_worker" not in _STRATEGIES:
            _STRATEGIES["multi_worker"] = tf.distribute.MultiWorkerMirroredStrategy()
        return _STRATEGIES["multi_worker"]
    return tf.distribute.get_strategy()  # single device: the default strategy, no overhead


def _freeze_library_objects() -> None:
    """Move everything alive before the first job out of the garbage collector's reach, once per
    process (TensorFlow and Keras themselves were frozen as they were imported: see
    :mod:`bmrun.runtime.tfimport`). The collection ``clear_session`` runs between sweep jobs then
    scans only what jobs created (BENCHMARKS.md, "Overheads"). No collection first: it would scan
    the whole heap once more to free a few import-time leftovers."""
    global _GC_FROZEN
    if not _GC_FROZEN:
        gc.freeze()
        _GC_FROZEN = True


def _set_op_determinism(tf, enabled: bool) -> None:
    """Deterministic ops for this job only: a sweep's later jobs must not inherit the setting."""
    if enabled:
        tf.config.experimental.enable_op_determinism()
        return
    from tensorflow.python.framework import config as tf_config  # no public switch-off exists

    if getattr(tf_config, "is_op_determinism_enabled", lambda: False)():
        tf_config.disable_op_determinism()


def setup_device(device_cfg, *, seed: int, deterministic: bool, verbose: int = 0) -> DeviceSetup:
    """Prepare TensorFlow for one job and return its strategy.

    Args:
        device_cfg: The validated ``device`` config group.
        seed: Seeds Python, NumPy, TensorFlow and Keras.
        deterministic: Turn on TensorFlow's deterministic ops (process-wide, cannot be undone).
        verbose: 2 shows TensorFlow's own logs.
    """
    tf = import_tensorflow(verbose)
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    with quiet_native_logs(verbose):
        _configure_process(tf, device_cfg)
        # Listing *physical* devices does not start the runtime; multi-worker collectives must be
        # configured (by creating the strategy) before it starts.
        gpus = tf.config.list_physical_devices("GPU") if device_cfg.name != "cpu" else []
        strategy = _strategy(tf, device_cfg, gpus)
        tf.constant(0.0)  # start the runtime now, while its log lines are hidden
    _freeze_library_objects()
    keras.backend.clear_session(free_memory=True)  # drops the previous job's graphs and frees memory
    platform = "gpu" if gpus and device_cfg.name != "cpu" else "cpu"
    precision = resolve_precision(device_cfg.precision, platform, tf, gpus)
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(seed)
    _set_op_determinism(tf, deterministic)
    replicas = strategy.num_replicas_in_sync
    kind = {"multi_worker": "MultiWorkerMirroredStrategy", "multi_gpu": "MirroredStrategy"}.get(
        device_cfg.name, "single device")
    auto = " (device.precision=auto)" if device_cfg.precision == "auto" else ""
    description = f"{replicas}x {platform.upper()} ({kind}), {precision}{auto}" + (", XLA" if device_cfg.xla else "")
    return DeviceSetup(strategy, platform, replicas, is_chief(), description, precision)


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AMX-BF16 or AVX512-BF16), from /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(requested: str, platform: str, tf=None, gpus=()) -> str:
    """``device.precision=auto``: bfloat16 compute where the hardware has it, else float32.

    bfloat16 keeps float32's exponent range, so it needs no loss scaling and (measured on the
    Fashion-MNIST CNN, BENCHMARKS.md) leaves accuracy unchanged; it pays only where the chip
    multiplies bf16 natively: CPUs with AMX-BF16/AVX512-BF16, GPUs of compute capability 8.0+.
    Every other choice is taken as given.
    """
    if requested != "auto":
        return requested
    if platform == "gpu":
        details = tf.config.experimental.get_device_details(gpus[0]) if tf is not None and gpus else {}
        capability = details.get("compute_capability") or (0, 0)
        return "mixed_bfloat16" if tuple(capability) >= (8, 0) else "float32"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"
