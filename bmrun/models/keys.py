"""The model group's own key names: those every family shares, and those renamed to the naming guide.

No Keras, no family: both the family record (:mod:`bmrun.models.family`) and the Keras model
(:mod:`bmrun.models.base`) read these, and neither needs the other to.
"""

COMMON_MODEL_KEYS = ("name", "init_from", "freeze")
# Family keys renamed to the naming guide (keras-hub's): old name -> new name. Commands, run dirs'
# config.yaml and saved models that use an old name keep working, with a one-line note.
RENAMED_MODEL_KEYS = {"dense_dims": "hidden_dims", "mlp_dim": "intermediate_dim"}


def with_current_names(arguments: dict) -> dict:
    """A family's keys with renamed ones under their current names (saved models, old configs)."""
    return {RENAMED_MODEL_KEYS.get(key, key): value for key, value in arguments.items()}
