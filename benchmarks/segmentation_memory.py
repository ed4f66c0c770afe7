"""Peak RSS of the plain segmentation command, phase by phase (measurement only).

    PYTHONPATH=. python benchmarks/segmentation_memory.py <folder> <run dir> [overrides ...]

``<folder>`` holds ``scans/`` and ``masks/`` (``benchmarks/segmentation.py --folder`` writes them).
Runs ``bmrun.training.train.train`` in this process for one epoch of 25 batches while a thread
samples ``/proc/self/status`` VmRSS every 20 ms; the job's building, the training calls, the
evaluations, the TensorBoard pictures and the export are wrapped to mark their phase. Prints the
peak of each phase in the order they ran (a quote mark: back in the caller after that phase).
"""
import sys, threading, time, os, json
from pathlib import Path
state = {"phase": "start", "peaks": {}, "order": []}
def rss():
    with open('/proc/self/status') as f:
        for l in f:
            if l.startswith('VmRSS'):
                return int(l.split()[1]) / 1024
def sampler():
    while True:
        r = rss(); p = state["phase"]
        if p not in state["peaks"]:
            state["order"].append(p); state["peaks"][p] = 0
        state["peaks"][p] = max(state["peaks"][p], r)
        time.sleep(0.02)
threading.Thread(target=sampler, daemon=True).start()
def mark(name):
    state["phase"] = name
def wrap(obj, attr, name):
    orig = getattr(obj, attr)
    def f(*a, **k):
        prev = state["phase"]; mark(name)
        try: return orig(*a, **k)
        finally: mark(prev + "'")
    setattr(obj, attr, f)
root = sys.argv[1]; run_dir = Path(sys.argv[2]); extra = sys.argv[3:]
run_dir.mkdir(parents=True, exist_ok=True)
from bmrun.config.compose import compose
from bmrun.config import validate
cfg = compose(["data=image_folder", f"data.path={root}/scans", f"data.masks={root}/masks", "model=unet",
               "trainer.max_epochs=1", "trainer.limit_train_batches=25", "logger.progress_bar=false"] + extra)
config = validate(cfg)
mark("tf import")
from bmrun.runtime.tfimport import import_tensorflow  # as the command does: Keras without scikit-learn
tf = import_tensorflow()
import bmrun.training.train as T, bmrun.training.job as J, bmrun.training.epoch as E
import bmrun.training.evaluator as V, bmrun.tensorboard.insight as I
wrap(J, "build_job", "build_job")
wrap(J, "load_prepared", "load_prepared")
wrap(J, "make_pipeline", "make_pipeline")
wrap(J, "_build_model", "build_model")
wrap(J, "make_evaluator", "make_evaluator")
wrap(E.EpochLoop, "run_call", "train steps")
wrap(V.Evaluator, "evaluate", "evaluate")
wrap(V.Evaluator, "test", "test")
wrap(V.Evaluator, "outputs", "outputs")
wrap(I.InsightLogger, "on_epoch_end", "insight epoch")
wrap(I.InsightLogger, "on_test_end", "insight test")
wrap(T, "_export", "export")
wrap(E.EpochLoop, "end_epoch", "end_epoch")
t = time.time()
mark("train()")
m = T.train(config, run_dir)
mark("done")
time.sleep(0.1)
for p in state["order"]:
    print(f"{p:30s} {state['peaks'][p]:7.0f} MiB")
import resource
print("ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, "wall", time.time()-t)
print(json.dumps({k: m["test"][k] for k in ("mean_iou", "dice", "pixel_accuracy")}), m.get("timings"))
