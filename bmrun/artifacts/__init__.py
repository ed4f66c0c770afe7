"""What a run leaves in its directory: config.yaml, metrics.json, history.csv, tensorboard/,
checkpoints/ and model/."""
